//! The tool index behind `retrieve_tools`.
