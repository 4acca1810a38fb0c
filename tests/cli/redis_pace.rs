//! The Redis clear over a long round trip: through `bench/latency_proxy.py` (a loopback proxy
//! that delays every chunk), the SCAN steps double so that round trips are half as many;
//! directly on loopback they stay at 1,000 keys. Counted by the server (`INFO commandstats`),
//! never timed.

use crate::support::project::Project;
use crate::support::proxy::Proxy;
use crate::support::redis::RedisServer;
use crate::support::run::{redis_lines, run, stdout};

const SESSIONS: usize = 40_000;
const OTHERS: usize = 40_000;

/// A private server with the sessions and as many other keys.
fn server(test: &str) -> Option<RedisServer> {
    let server = RedisServer::start(test)?;
    server.plant(0, "myapp:session:", SESSIONS);
    server.plant(0, "cache:", OTHERS);
    Some(server)
}

/// SCAN calls the server answered since its statistics were last reset.
fn scan_calls(server: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut server.con(0))
        .expect("INFO commandstats");
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_scan:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().expect("a call count"))
}

fn reset_stats(server: &RedisServer) {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query::<()>(&mut server.con(0))
        .expect("CONFIG RESETSTAT");
}

/// `clear --force` against `url` (a server whose sessions are under `myapp:session:`), checked to
/// delete exactly the sessions; the SCAN calls it made.
fn clear_through(server: &RedisServer, url: &str, shown: &str) -> u64 {
    reset_stats(server);
    let p = Project::new();
    let out = run(p.cmd().args(["clear", "--force"]).env("REDIS_URL", url), 0);
    let calls = scan_calls(server);
    assert_eq!(
        stdout(&out),
        redis_lines(shown, "myapp:session:*", SESSIONS)
    );
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    assert_eq!(server.dbsize(0), OTHERS as u64);
    calls
}

#[test]
fn over_a_long_round_trip_the_scan_steps_double() {
    let Some(server) = server("redis_pace_long_rtt") else {
        return;
    };
    let Some(proxy) = Proxy::start("redis_pace_long_rtt", server.port, 5.0) else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", proxy.port);
    let calls = clear_through(&server, &url, &url);
    // 80,000 keys at 1,000 a step would be about 80 calls; at 2,000, about 40.
    assert!(
        (35..=50).contains(&calls),
        "{calls} SCAN calls through a 5 ms round trip"
    );
}

#[test]
fn on_loopback_the_scan_steps_stay_at_a_thousand_keys() {
    let Some(server) = server("redis_pace_loopback") else {
        return;
    };
    let url = server.url();
    let calls = clear_through(&server, &url, &url);
    assert!(calls >= 70, "{calls} SCAN calls on loopback");
}

#[test]
fn a_dry_run_through_a_long_round_trip_counts_exactly() {
    let Some(server) = server("redis_pace_dry_run") else {
        return;
    };
    let Some(proxy) = Proxy::start("redis_pace_dry_run", server.port, 5.0) else {
        return;
    };
    reset_stats(&server);
    let p = Project::new();
    let url = format!("redis://127.0.0.1:{}", proxy.port);
    let out = run(
        p.cmd().args(["clear", "--dry-run"]).env("REDIS_URL", &url),
        0,
    );
    assert!(
        stdout(&out).contains(&format!("Would clear {SESSIONS} session(s)")),
        "{}",
        stdout(&out)
    );
    assert!(scan_calls(&server) < 50);
    assert_eq!(server.count(0, "myapp:session:*"), SESSIONS);
}
