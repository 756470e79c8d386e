// The `mcpproxy:policy/host` import for the Node test harness: records log lines so tests can
// look at them (the daemon writes them to its log instead).
export const logged = [];

export function log(level, message) {
  logged.push({ level, message });
}
