//! Folding a town's beads changes into reconciles: at once for a change
//! after a quiet spell, at most once per window while changes keep coming.
//!
//! A fixed window after every first change (what came before) made each
//! polecat spawn wait the whole window before the operator even looked; a
//! leading edge answers a lone change within [`GATHER`], and the window
//! still bounds how often a busy town reads beads.

use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::time::Instant;

/// How long a change after a quiet spell waits for the ones written with it
/// (a batch of spawns arrives within a few milliseconds).
pub const GATHER: Duration = Duration::from_millis(25);
/// Bursts are at least this far apart: changes arriving within it of the
/// last burst wait for its end and go together.
pub const WINDOW: Duration = Duration::from_millis(250);
/// Most changes folded into one burst before it is let go anyway.
pub const MAX_BURST: usize = 512;

/// `items` in bursts: a burst closes [`GATHER`] after its first item, or at
/// the end of the [`WINDOW`] that the previous burst opened, whichever is
/// later, or when it holds `MAX_BURST` items.
pub fn bursts<S>(items: S) -> impl Stream<Item = Vec<S::Item>>
where
    S: Stream,
{
    let items = Box::pin(items.fuse());
    futures::stream::unfold((items, None::<Instant>), |(mut items, last)| async move {
        let first = items.next().await?;
        let now = Instant::now();
        let until = last
            .map(|last| last + WINDOW)
            .map_or(now + GATHER, |window_end| window_end.max(now + GATHER));
        let mut burst = vec![first];
        while burst.len() < MAX_BURST {
            match tokio::time::timeout_at(until, items.next()).await {
                Ok(Some(item)) => burst.push(item),
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
    async fn a_lone_change_goes_at_once_and_a_stream_of_them_once_per_window() {
        let got = timed(vec![
            // A lone change, with two written along with it.
            (0, 1),
            (3, 2),
            (10, 3),
            // Soon after: waits for the window the first burst opened.
            (100, 4),
            (200, 5),
            // After a quiet spell: at once again.
            (2000, 6),
        ])
        .await;
        assert_eq!(
            got,
            vec![(25, vec![1, 2, 3]), (275, vec![4, 5]), (2025, vec![6]),]
        );
    }
}
