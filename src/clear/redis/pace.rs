//! How many keys each SCAN step asks for, chosen once from the round trip.
//!
//! A clear is a chain of SCAN steps, each waiting for the cursor of the one before; the
//! UNLINK of a step's keys goes out with the next SCAN and runs while that SCAN's answer
//! travels back. On loopback the server's work per step (a millisecond or two per
//! [`SCAN_COUNT`] keys) hides the round trip, but across a network a step costs its round
//! trip plus the server's SCAN time, and with a 5 ms round trip about two thirds of the clear
//! is spent waiting for answers. Fewer, larger steps wait less; but a step's SCAN and the
//! UNLINK sent with it run back to back on the server, and every other client waits behind
//! them.
//!
//! Measured side by side at a 5 ms round trip (1M session keys among 1M others,
//! bench/rtt.md): steps of 1,000 keys took 2.65x the server's own time with other clients'
//! worst PING at 6 to 10 ms; steps of 2,000 keys 1.75x at 9.1 ms; steps of 3,000 keys 1.22x
//! but 21 ms. So where the round trip is at least [`LONG_RTT`] a step asks for twice
//! [`SCAN_COUNT`] keys, and never more: one cursor chain cannot have both 1.6x of the
//! server's time and a 10 ms worst wait at 5 ms on that machine. Up to 1 ms the round trip
//! hides behind the server's own work (1.01x to 1.13x), and steps stay as they are.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use super::SCAN_COUNT;

/// The round trip from which steps are doubled.
pub const LONG_RTT: Duration = Duration::from_micros(2500);

/// PINGs sent to measure the round trip; the quickest counts.
const PINGS: u32 = 3;

/// The step size of one clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    count: usize,
}

impl Pace {
    /// The pace for a round trip of `rtt`.
    pub fn for_rtt(rtt: Duration) -> Self {
        let count = if rtt >= LONG_RTT {
            2 * SCAN_COUNT
        } else {
            SCAN_COUNT
        };
        Pace { count }
    }

    /// Measure the round trip to the server behind `con` with a few PINGs (a server that
    /// does not answer one gets the usual steps; the clear then says what is wrong).
    pub async fn measure(con: &MultiplexedConnection) -> Self {
        let mut best: Option<Duration> = None;
        for _ in 0..PINGS {
            let mut con = con.clone();
            let start = Instant::now();
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut con).await;
            if pong.is_err() {
                return Pace::for_rtt(Duration::ZERO);
            }
            let took = start.elapsed();
            best = Some(best.map_or(took, |b| b.min(took)));
        }
        Pace::for_rtt(best.unwrap_or(Duration::ZERO))
    }

    /// How many keys each step asks for.
    pub fn count(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_from_a_long_round_trip() {
        let ms = |n: f64| Duration::from_secs_f64(n / 1000.0);
        assert_eq!(Pace::for_rtt(Duration::ZERO).count(), SCAN_COUNT);
        assert_eq!(Pace::for_rtt(ms(1.0)).count(), SCAN_COUNT);
        assert_eq!(Pace::for_rtt(ms(2.49)).count(), SCAN_COUNT);
        assert_eq!(Pace::for_rtt(ms(2.5)).count(), 2 * SCAN_COUNT);
        assert_eq!(Pace::for_rtt(ms(5.0)).count(), 2 * SCAN_COUNT);
        assert_eq!(Pace::for_rtt(ms(80.0)).count(), 2 * SCAN_COUNT);
    }
}
