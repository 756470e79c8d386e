//! Spawn pacing: stdio servers start as fast as the CPU that is actually free allows.
//!
//! A fixed number of parallel spawns is wrong both ways: servers that are cheap to start
//! (or that wait on the network) could go faster, and a thousand that are costly (a Python
//! interpreter each) all started at once share the cores until every one of them is slow,
//! the daemon's own handshakes starve among them and some overrun their `init_timeout`,
//! which pays their start twice.
//!
//! So a start holds a place from its spawn until its handshake ends, and the number of
//! places (the window) follows the machine's CPU load, sampled every `TICK` while starts
//! wait: the pressure (`/proc/pressure/cpu`, the share of time runnable tasks waited for a
//! core) and the idle share (`/proc/stat`). It grows while the cores keep up or some of
//! them idle, holds while they are just saturated and shrinks while tasks queue. The idle
//! share matters when the places are held by starts that wait rather than work (a server
//! still computing its answer, or one about to be seen idle): the pressure alone, raised
//! by short bursts, held the window at its floor while half the CPU went unused. A start
//! whose process slept and used no CPU between two looks `IDLE_AFTER` apart (waiting on the network, on the daemon's handshake, or hanging) gives its place up,
//! so such servers never hold the others back.
//! Without pressure figures (an old kernel) the window only grows: every server starts at
//! once, as before pacing.
//!
//! `next_window` is the decision, a pure function; the rest is bookkeeping and `/proc`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How often the window is reconsidered while starts wait.
const TICK: Duration = Duration::from_millis(10);
/// A start whose process slept and used no CPU over this long no longer holds a place. Each
/// such start holds its place this long at least, so it is short (CPU time is read in
/// nanoseconds, so one tick tells): with a place or two per core, a hundred hanging
/// servers held 100 ms each queued a thousand cheap ones by seconds.
const IDLE_AFTER: Duration = TICK;
/// Below this pressure the cores keep up: the window grows.
const LOW: f64 = 0.25;
/// Above it tasks queue for the cores: the window shrinks.
const HIGH: f64 = 0.6;
/// Above this share of the cores idle, there is CPU to start more on: the window grows.
const IDLE: f64 = 0.25;
/// Places at most (processes being started that use CPU).
const MAX_WINDOW: usize = 4096;

/// The CPU load over one tick; `None`: not known (an old kernel, no `/proc`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Load {
    /// Share of the time a runnable task waited for a core.
    pub pressure: Option<f64>,
    /// Share of the cores' time spent idle.
    pub idle: Option<f64>,
}

/// The window after a tick in which `counted` starts held places under `load`; never
/// below `cores`.
pub fn next_window(window: usize, counted: usize, load: Load, cores: usize) -> usize {
    let grown = (window + (window / 2).max(1)).min(MAX_WINDOW);
    // Only a full window grows: one the starts do not use says nothing about the cores.
    let full = counted >= window;
    let idle = load.idle.is_some_and(|idle| idle > IDLE);
    let next = match load.pressure {
        Some(p) if p > HIGH => window - (window / 4).max(1).min(window),
        Some(p) if full && (p < LOW || idle) => grown,
        Some(_) => window,
        None if full => grown,
        None => window,
    };
    next.max(cores.max(1))
}

/// Starts that hold a place, by number.
struct State {
    window: usize,
    starts: HashMap<u64, Start>,
    next: u64,
    waiting: usize,
    ticking: bool,
}

struct Start {
    /// Holds a place (not yet seen idle).
    counted: bool,
    pid: Option<u32>,
    /// The process's CPU time when last looked at, whether it was runnable, and when.
    looked: Option<(Duration, bool, Instant)>,
}

impl State {
    fn counted(&self) -> usize {
        self.starts.values().filter(|s| s.counted).count()
    }

    /// Uncounts the starts whose process slept and used no CPU over `IDLE_AFTER` up to `now`.
    fn look_at_processes(&mut self, now: Instant) {
        for start in self.starts.values_mut().filter(|s| s.counted) {
            let Some((cpu, runnable)) = start.pid.and_then(activity) else {
                continue;
            };
            match start.looked {
                Some((before, was_runnable, at)) if now.duration_since(at) >= IDLE_AFTER => {
                    if slept_between((before, was_runnable), (cpu, runnable)) {
                        start.counted = false;
                    } else {
                        start.looked = Some((cpu, runnable, now));
                    }
                }
                Some(_) => {}
                None => start.looked = Some((cpu, runnable, now)),
            }
        }
    }
}

struct Shared {
    /// A std mutex: counters and a map updated under it, never an await.
    state: Mutex<State>,
    /// A place was freed or the window grew.
    freed: Notify,
    cores: usize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands out places to start stdio servers in; see the module doc.
#[derive(Clone)]
pub struct Pacer {
    shared: Arc<Shared>,
}

impl Pacer {
    pub fn new() -> Pacer {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pacer {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    window: cores + 1,
                    starts: HashMap::new(),
                    next: 0,
                    waiting: 0,
                    ticking: false,
                }),
                freed: Notify::new(),
                cores,
            }),
        }
    }

    /// Waits for a place; the start holds it until the returned `Place` is dropped (or its
    /// process is seen idle).
    pub async fn admit(&self) -> Place {
        let shared = &self.shared;
        let mut waiting: Option<Waiting<'_>> = None;
        loop {
            let notified = shared.freed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = shared.lock();
                if state.counted() < state.window {
                    let id = state.next;
                    state.next += 1;
                    let start = Start {
                        counted: true,
                        pid: None,
                        looked: None,
                    };
                    state.starts.insert(id, start);
                    drop(state);
                    drop(waiting);
                    return Place {
                        shared: shared.clone(),
                        id,
                    };
                }
                if waiting.is_none() {
                    state.waiting += 1;
                    waiting = Some(Waiting(shared));
                }
                if !state.ticking {
                    state.ticking = true;
                    tokio::spawn(tick(shared.clone()));
                }
            }
            notified.await;
        }
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

/// One waiter counted in `State::waiting`, uncounted however `admit` ends.
struct Waiting<'a>(&'a Shared);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

/// A start's place, given back when dropped (its handshake ended, either way).
pub struct Place {
    shared: Arc<Shared>,
    id: u64,
}

impl Place {
    /// The process being started, so that it can be seen idle.
    pub fn started(&self, pid: Option<u32>) {
        if let Some(start) = self.shared.lock().starts.get_mut(&self.id) {
            start.pid = pid;
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let counted = self
            .shared
            .lock()
            .starts
            .remove(&self.id)
            .is_some_and(|s| s.counted);
        if counted {
            self.shared.freed.notify_one();
        }
    }
}

/// While starts wait: every `TICK`, looks at the pressure and the starts' processes, sets
/// the window and wakes the waiters.
async fn tick(shared: Arc<Shared>) {
    let mut load = LoadSampler::new();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let sample = load.sample();
        let mut state = shared.lock();
        if state.waiting == 0 {
            state.ticking = false;
            return;
        }
        state.look_at_processes(Instant::now());
        let counted = state.counted();
        state.window = next_window(state.window, counted, sample, shared.cores);
        // As many waiters as there are places: waking all of them, a thousand at times,
        // every tick would cost more than the starts.
        let free = state.window.saturating_sub(counted).min(state.waiting);
        drop(state);
        for _ in 0..free {
            shared.freed.notify_one();
        }
    }
}

/// Whether a process seen as `before` and then `after` (`activity`) slept in between: a
/// process that waits for a core uses no CPU either, so only one that used none and was
/// runnable at neither look (asleep on a pipe, the network) is idle.
fn slept_between(before: (Duration, bool), after: (Duration, bool)) -> bool {
    before.0 == after.0 && !before.1 && !after.1
}

/// The CPU time `pid` has used and whether it is running or waiting to run: the time from
/// `/proc/<pid>/schedstat` (nanoseconds), or, without it, from `/proc/<pid>/stat` (clock
/// ticks, user + system, taken as 10 ms each: only the changes matter).
fn activity(pid: u32) -> Option<(Duration, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which may hold spaces: state is the first.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let runnable = fields.next()? == "R";
    let schedstat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok();
    let on_cpu = schedstat
        .as_deref()
        .and_then(|s| s.split_whitespace().next()?.parse().ok());
    let cpu = match on_cpu {
        Some(nanos) => Duration::from_nanos(nanos),
        None => {
            let user: u64 = fields.nth(10)?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Duration::from_millis(10 * (user + system))
        }
    };
    Some((cpu, runnable))
}

/// The load: `/proc/pressure/cpu`'s `some` total (µs during which a runnable task waited
/// for a core) over the time passed since the last sample, and `/proc/stat`'s idle and
/// iowait jiffies over all of the cores' jiffies during the last `IDLE_SPAN`.
struct LoadSampler {
    pressure: Option<(u64, Instant)>,
    /// Samples of the last `IDLE_SPAN`, oldest first.
    jiffies: VecDeque<(Instant, Jiffies)>,
}

/// The idle share is read over this long: a jiffy is 10 ms, two a tick on two cores.
const IDLE_SPAN: Duration = Duration::from_millis(50);

impl LoadSampler {
    fn new() -> LoadSampler {
        LoadSampler {
            pressure: read_pressure().map(|total| (total, Instant::now())),
            jiffies: read_jiffies()
                .map(|j| (Instant::now(), j))
                .into_iter()
                .collect(),
        }
    }

    fn sample(&mut self) -> Load {
        Load {
            pressure: self.pressure(),
            idle: self.idle(),
        }
    }

    fn pressure(&mut self) -> Option<f64> {
        let total = read_pressure()?;
        let now = Instant::now();
        let (before, at) = self.pressure.replace((total, now))?;
        let passed = (now - at).as_micros().max(1) as f64;
        Some(total.saturating_sub(before) as f64 / passed)
    }

    fn idle(&mut self) -> Option<f64> {
        let now = read_jiffies()?;
        let at = Instant::now();
        // The newest sample at least `IDLE_SPAN` old is the base; older ones go.
        while self.jiffies.len() > 1 && at.duration_since(self.jiffies[1].0) >= IDLE_SPAN {
            self.jiffies.pop_front();
        }
        let before = self.jiffies.front().map(|&(_, j)| j);
        self.jiffies.push_back((at, now));
        let before = before?;
        let total = now.total.saturating_sub(before.total);
        // Under a jiffy passed: nothing to tell.
        (total > 0).then(|| now.idle.saturating_sub(before.idle) as f64 / total as f64)
    }
}

fn read_pressure() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let some = text.lines().find(|l| l.starts_with("some"))?;
    some.split_whitespace()
        .find_map(|field| field.strip_prefix("total="))?
        .parse()
        .ok()
}

/// The cores' time so far, in jiffies: idle (with iowait) and all.
#[derive(Clone, Copy)]
struct Jiffies {
    idle: u64,
    total: u64,
}

fn read_jiffies() -> Option<Jiffies> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = text
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is within user).
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    let total = fields.iter().take(8).sum();
    Some(Jiffies { idle, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_the_load() {
        let load = |pressure, idle| Load { pressure, idle };
        let busy = |pressure| load(Some(pressure), Some(0.0));
        // Cores keeping up and every place used: grows by half.
        assert_eq!(next_window(4, 4, busy(0.0), 2), 6);
        assert_eq!(next_window(2, 2, busy(0.1), 2), 3);
        // Places unused: nothing learnt.
        assert_eq!(next_window(8, 3, busy(0.0), 2), 8);
        assert_eq!(next_window(8, 3, load(Some(0.0), Some(0.9)), 2), 8);
        // Just saturated: holds.
        assert_eq!(next_window(6, 6, busy(0.5), 2), 6);
        // Some pressure, but cores idle (bursts while the starts wait): grows.
        assert_eq!(next_window(2, 2, load(Some(0.5), Some(0.4)), 2), 3);
        assert_eq!(next_window(2, 2, load(Some(0.5), Some(0.2)), 2), 2);
        assert_eq!(next_window(2, 2, load(Some(0.5), None), 2), 2);
        // Tasks queue: shrinks by a quarter, never below the cores, idle or not.
        assert_eq!(next_window(8, 8, busy(0.9), 2), 6);
        assert_eq!(next_window(8, 8, load(Some(0.9), Some(0.5)), 2), 6);
        assert_eq!(next_window(3, 3, busy(1.0), 2), 2);
        assert_eq!(next_window(2, 2, busy(1.0), 2), 2);
        // No pressure figures: a full window grows, up to the cap.
        let unknown = Load::default();
        assert_eq!(next_window(10, 10, unknown, 2), 15);
        assert_eq!(next_window(10, 4, unknown, 2), 10);
        assert_eq!(next_window(MAX_WINDOW, MAX_WINDOW, unknown, 2), MAX_WINDOW);
    }

    /// A pacer whose window stays as it is: marked ticking, so no ticker is started.
    fn fixed_pacer() -> (Pacer, usize) {
        let pacer = Pacer::new();
        let window = {
            let mut state = pacer.shared.lock();
            state.ticking = true;
            state.window
        };
        (pacer, window)
    }

    async fn wait_until_waiting(pacer: &Pacer) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while pacer.shared.lock().waiting == 0 {
            assert!(Instant::now() < deadline, "the start never waited");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_start_past_the_window_waits_for_a_place_to_be_given_back() {
        let (pacer, window) = fixed_pacer();
        let mut places = Vec::new();
        for _ in 0..window {
            places.push(pacer.admit().await);
        }
        let next = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.admit().await }
        });
        wait_until_waiting(&pacer).await;
        assert!(!next.is_finished());
        drop(places.pop());
        let place = tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("a freed place is handed on")
            .unwrap();
        assert_eq!(pacer.shared.lock().waiting, 0);
        drop(place);
        drop(places);
        assert_eq!(pacer.shared.lock().counted(), 0);
    }

    #[tokio::test]
    async fn a_start_whose_process_is_idle_gives_its_place_up_and_a_busy_one_keeps_it() {
        let (pacer, window) = fixed_pacer();
        let mut children = Vec::new();
        let mut places = Vec::new();
        // One process that spins, the others sleep.
        for i in 0..window {
            let mut command = std::process::Command::new("sh");
            let script = if i == 0 {
                "while :; do :; done"
            } else {
                "exec sleep 30"
            };
            let child = command.args(["-c", script]).spawn().unwrap();
            let place = pacer.admit().await;
            place.started(Some(child.id()));
            children.push(child);
            places.push(place);
        }
        let busy = children[0].id();
        // Until the sleepers are asleep, their start-up spent: `sleep` sleeping, its CPU time
        // the same at two looks a tick apart (a poll with a deadline).
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in &children[1..] {
            let pid = child.id();
            let comm = || std::fs::read_to_string(format!("/proc/{pid}/comm"));
            loop {
                assert!(Instant::now() < deadline, "sleep did not start");
                if comm().unwrap_or_default().trim() == "sleep"
                    && let Some(before) = activity(pid)
                {
                    std::thread::sleep(TICK);
                    if activity(pid).is_some_and(|after| slept_between(before, after)) {
                        break;
                    }
                }
                std::thread::yield_now();
            }
        }
        let first = Instant::now();
        pacer.shared.lock().look_at_processes(first);
        // Until the spinning one has used CPU (a poll with a deadline).
        let start_cpu = activity(busy).unwrap().0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while activity(busy).unwrap().0 == start_cpu {
            assert!(
                Instant::now() < deadline,
                "the spinning process used no CPU"
            );
            std::thread::yield_now();
        }
        pacer.shared.lock().look_at_processes(first + IDLE_AFTER);
        let counted = pacer.shared.lock().counted();
        for child in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(counted, 1, "only the busy start holds a place");
        tokio::time::timeout(Duration::from_secs(5), pacer.admit())
            .await
            .expect("idle starts kept their places");
    }
}
