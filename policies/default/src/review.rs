//! The default `review-tools`: a tool differing from what a user approved is hidden until the
//! user approves the server's tools again. Nothing is quarantined and no tool is hidden for
//! another tool's sake, so one changed tool costs only itself.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::mcpproxy::policy::types::{ReviewDecision, ToolChange, ToolReview, ToolVerdict};

/// The verdict for one tool: new or changed tools are hidden, with the reason users see.
fn verdict(server: &str, tool: &ToolChange) -> ToolVerdict {
    if tool.approved_hash.is_none() {
        return ToolVerdict::Hide(format!(
            "new since {server}'s tools were approved: hidden until approved \
             (`mcpproxy upstream approve {server}`)"
        ));
    }
    if tool.approved_hash.as_deref() == Some(tool.current_hash.as_str()) {
        return ToolVerdict::Expose;
    }
    let fields: String = if tool.changed_fields.is_empty() {
        String::from("its definition")
    } else {
        tool.changed_fields.join(", ")
    };
    ToolVerdict::Hide(format!(
        "{fields} changed since approval: hidden until approved again \
         (`mcpproxy upstream approve {server}`)"
    ))
}

pub fn review_tools(review: &ToolReview) -> ReviewDecision {
    let verdicts: Vec<ToolVerdict> = review
        .tools
        .iter()
        .map(|t| verdict(&review.server, t))
        .collect();
    ReviewDecision::PerTool(verdicts)
}
