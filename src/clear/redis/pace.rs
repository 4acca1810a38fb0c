//! How many keys each SCAN step asks for, sized to the round trip.
//!
//! A clear is a chain of SCAN steps, each waiting for the cursor of the one before; the
//! UNLINK of a step's keys goes out with the next SCAN and runs while that SCAN's answer
//! travels back. On loopback the server's work per step (a few milliseconds per
//! [`SCAN_COUNT`] keys) hides the round trip, but across a network a step costs its round
//! trip plus the server's SCAN time, and with a 5 ms round trip about half the clear is spent
//! waiting for answers. Asking for more keys per step makes the round trips fewer; a step
//! must still not hold the server so long that other clients notice.
//!
//! So the pace measures the round trip (the quickest of a few PINGs) and, from every SCAN's
//! answer time less that round trip, what the server spends per key scanned; it asks for
//! enough keys that a step keeps the server busy for about one round trip, never for more
//! than [`MAX_SLICE`], and never for fewer than [`SCAN_COUNT`] keys.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use super::SCAN_COUNT;

/// The longest a SCAN step is sized to hold the server: its UNLINK, sent with the next SCAN,
/// adds about half as much again, which keeps other clients' waits under 10 ms.
pub const MAX_SLICE: Duration = Duration::from_millis(5);

/// The most keys one step asks for, whatever the estimates say.
pub const MAX_COUNT: usize = 20 * SCAN_COUNT;

/// PINGs sent to measure the round trip; the quickest counts.
const PINGS: u32 = 3;

/// The round trip to one server and what its SCAN steps cost it.
#[derive(Debug, Clone)]
pub struct Pace {
    rtt: Duration,
    /// Nanoseconds of server time per key a step asked for (a moving average).
    per_key: Option<f64>,
}

impl Pace {
    /// A pace for a round trip measured elsewhere (tests, and servers that did not answer a
    /// PING: they get [`SCAN_COUNT`]).
    pub fn new(rtt: Duration) -> Self {
        Pace { rtt, per_key: None }
    }

    /// Measure the round trip to the server behind `con` with a few PINGs.
    pub async fn measure(con: &MultiplexedConnection) -> Self {
        let mut best: Option<Duration> = None;
        for _ in 0..PINGS {
            let mut con = con.clone();
            let start = Instant::now();
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut con).await;
            if pong.is_err() {
                break;
            }
            let took = start.elapsed();
            best = Some(best.map_or(took, |b| b.min(took)));
        }
        Pace::new(best.unwrap_or(Duration::ZERO))
    }

    /// How many keys the next step asks for.
    pub fn count(&self) -> usize {
        let Some(per_key) = self.per_key.filter(|k| *k > 0.0) else {
            return SCAN_COUNT;
        };
        let slice = self.rtt.min(MAX_SLICE).as_nanos() as f64;
        let wanted = (slice / per_key) as usize;
        wanted.clamp(SCAN_COUNT, MAX_COUNT)
    }

    /// A step that asked for `count` keys answered `took` after it was sent.
    pub fn observe(&mut self, count: usize, took: Duration) {
        // What the server spent, less the round trip; an answer quicker than the round trip
        // (a PING that met a busy moment) says nothing about it.
        let Some(server) = took.checked_sub(self.rtt) else {
            return;
        };
        if count == 0 {
            return;
        }
        let sample = server.as_nanos() as f64 / count as f64;
        self.per_key = Some(match self.per_key {
            None => sample,
            Some(avg) => 0.75 * avg + 0.25 * sample,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: f64) -> Duration {
        Duration::from_secs_f64(n / 1000.0)
    }

    #[test]
    fn without_a_measure_a_step_asks_for_the_default() {
        assert_eq!(Pace::new(ms(5.0)).count(), SCAN_COUNT);
    }

    #[test]
    fn on_loopback_the_default_stays() {
        // 0.05 ms round trip, 3 ms of server time per 1000 keys.
        let mut pace = Pace::new(ms(0.05));
        pace.observe(1000, ms(3.05));
        assert_eq!(pace.count(), SCAN_COUNT);
    }

    #[test]
    fn a_long_round_trip_asks_for_more_keys_up_to_the_slice() {
        // 5 ms round trip, 3 µs per key: 5 ms of server time is about 1,667 keys.
        let mut pace = Pace::new(ms(5.0));
        pace.observe(1000, ms(8.0));
        assert_eq!(pace.count(), 1666);
        // 20 ms round trip: the slice stays at 5 ms.
        let mut pace = Pace::new(ms(20.0));
        pace.observe(1000, ms(23.0));
        assert_eq!(pace.count(), 1666);
    }

    #[test]
    fn a_cheap_keyspace_is_capped() {
        let mut pace = Pace::new(ms(5.0));
        pace.observe(1000, ms(5.01));
        assert_eq!(pace.count(), MAX_COUNT);
    }

    #[test]
    fn answers_quicker_than_the_round_trip_are_ignored_and_the_rest_averaged() {
        let mut pace = Pace::new(ms(5.0));
        pace.observe(1000, ms(4.0));
        assert_eq!(pace.count(), SCAN_COUNT);
        pace.observe(1000, ms(7.5)); // 2.5 µs per key
        pace.observe(2000, ms(15.0)); // 5 µs per key: average 3.125 µs
        assert_eq!(pace.count(), 1600);
    }
}
