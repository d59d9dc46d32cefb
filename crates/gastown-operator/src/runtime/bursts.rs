//! Folding a town's beads changes into reads: soon after a change that
//! follows a quiet spell, at most once per window while changes keep coming.
//!
//! A fixed window after every first change (what came before) made each
//! polecat spawn wait the whole window before the operator even looked. Now
//! a burst closes once its changes pause for [`QUIET`] (a batch of spawns is
//! written a few milliseconds apart and goes as one), never later than
//! [`WINDOW`] after its first change, and never sooner than [`WINDOW`] after
//! the previous burst: a busy town is read at most ten times a second.

use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::time::Instant;

/// A burst closes once no change has come for this long.
pub const QUIET: Duration = Duration::from_millis(15);
/// Bursts are at least this far apart, and a burst that keeps growing closes
/// this long after its first change.
pub const WINDOW: Duration = Duration::from_millis(100);
/// Most changes folded into one burst before it is let go anyway.
pub const MAX_BURST: usize = 512;

/// `items` in bursts. A burst closes when it holds [`MAX_BURST`] items, or
/// at the later of the end of the window the previous burst opened and the
/// moment its items pause for [`QUIET`] — but no later than the later of
/// that window's end and [`WINDOW`] after its first item.
pub fn bursts<S>(items: S) -> impl Stream<Item = Vec<S::Item>>
where
    S: Stream,
{
    let items = Box::pin(items.fuse());
    futures::stream::unfold((items, None::<Instant>), |(mut items, last)| async move {
        let first = items.next().await?;
        let now = Instant::now();
        let window_end = last.map_or(now, |last| last + WINDOW);
        let latest = window_end.max(now + WINDOW);
        let mut quiet_from = now;
        let mut burst = vec![first];
        while burst.len() < MAX_BURST {
            let until = window_end.max(quiet_from + QUIET).min(latest);
            match tokio::time::timeout_at(until, items.next()).await {
                Ok(Some(item)) => {
                    burst.push(item);
                    quiet_from = Instant::now();
                }
                Ok(None) | Err(_) => break,
            }
        }
        Some((burst, (items, Some(Instant::now()))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    /// Bursts with the time (since the start) each was let go.
    async fn timed(sends: Vec<(u64, u32)>) -> Vec<(u128, Vec<u32>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        tokio::spawn(async move {
            for (at_ms, item) in sends {
                tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
                tx.send(item).unwrap();
            }
            // The stream stays open a while: no burst closes by its end.
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        bursts(UnboundedReceiverStream::new(rx))
            .map(|burst| (start.elapsed().as_millis(), burst))
            .collect()
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_goes_when_it_pauses_and_what_follows_waits_for_the_window() {
        let got = timed(vec![
            // A change with two written along with it: they go when they pause.
            (0, 1),
            (3, 2),
            (10, 3),
            // Soon after: waits for the window the first burst opened.
            (50, 4),
            (80, 5),
            // After a quiet spell: as soon as it pauses again.
            (2000, 6),
        ])
        .await;
        assert_eq!(
            got,
            vec![(25, vec![1, 2, 3]), (125, vec![4, 5]), (2015, vec![6])]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_goes_once_per_window() {
        // A change every 10 ms for a second: never a pause of QUIET.
        let got = timed((0..100).map(|i| (i * 10, i as u32)).collect()).await;
        let times: Vec<u128> = got.iter().map(|(at, _)| *at).collect();
        assert!((9..=10).contains(&times.len()), "{times:?}");
        assert_eq!(times[0], 100, "{times:?}");
        for pair in times.windows(2) {
            let apart = pair[1] - pair[0];
            assert!((100..=120).contains(&apart), "{times:?}");
        }
        assert_eq!(got.iter().map(|(_, b)| b.len()).sum::<usize>(), 100);
    }
}
