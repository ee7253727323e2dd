//! Group commit for the dispatcher's writes: many jobs' limiter reservations, and many jobs'
//! outcomes, each stored in one transaction instead of one transaction apiece.
//!
//! There is no writer task. A caller queues its request and waits for its turn; whoever gets
//! the turn commits everything queued by then (its own request and those of every caller
//! that queued while the previous commit ran) and answers them all. Callers that find their
//! request already answered just return. Under load, batches grow by themselves while a
//! commit is in flight, so the store's per-transaction cost (SQLite's one writer and its
//! fsync, a PostgreSQL round trip) is shared; an idle dispatcher commits each request alone,
//! without waiting for company.

use std::future::Future;

use tokio::sync::{Mutex, oneshot};

/// A request waiting to be committed, with the channel for its answer.
type Queued<Req, Resp> = (Req, oneshot::Sender<Result<Resp, String>>);

/// One group-committed kind of write.
pub(crate) struct GroupCommit<Req, Resp> {
    queue: std::sync::Mutex<Vec<Queued<Req, Resp>>>,
    /// Held while committing: one batch at a time, in the order requests were queued, so
    /// the reservations of one location take consecutive places.
    turn: Mutex<()>,
    max_batch: usize,
    /// How long the caller whose turn it is waits for a batch to fill before committing
    /// less (zero: never waits).
    linger: std::time::Duration,
}

impl<Req, Resp> GroupCommit<Req, Resp> {
    /// At most `max_batch` requests per transaction (statements stay below the databases'
    /// parameter limits).
    pub(crate) fn new(max_batch: usize) -> Self {
        Self {
            queue: std::sync::Mutex::default(),
            turn: Mutex::const_new(()),
            max_batch: max_batch.max(1),
            linger: std::time::Duration::ZERO,
        }
    }

    /// As [`new`](Self::new), but a batch short of `max_batch` waits up to `linger` for
    /// company: for writes whose cost is per request, not per item.
    pub(crate) fn with_linger(max_batch: usize, linger: std::time::Duration) -> Self {
        Self {
            linger,
            ..Self::new(max_batch)
        }
    }

    /// Queues `request` and returns its answer once it is committed. `commit` stores a batch
    /// and answers each request in order (`Err` for the batch fails every request of it); the
    /// caller whose turn it is runs its own `commit`, so every caller passes the same one.
    pub(crate) async fn submit<F, Fut>(&self, request: Req, commit: F) -> Result<Resp, String>
    where
        F: Fn(Vec<Req>) -> Fut,
        Fut: Future<Output = Result<Vec<Resp>, String>>,
    {
        let (reply, mut answer) = oneshot::channel();
        self.lock_queue().push((request, reply));
        let _turn = self.turn.lock().await;
        loop {
            match answer.try_recv() {
                Ok(result) => return result,
                // The caller that took it stopped before answering.
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err("the commit was abandoned".into());
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if !self.linger.is_zero() {
                let until = tokio::time::Instant::now() + self.linger;
                while self.lock_queue().len() < self.max_batch
                    && tokio::time::Instant::now() < until
                {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
            let batch = {
                let mut queue = self.lock_queue();
                let take = queue.len().min(self.max_batch);
                queue.drain(..take).collect::<Vec<_>>()
            };
            if batch.is_empty() {
                // Unreachable while every commit answers before giving up the turn.
                return Err("the request was lost".into());
            }
            let (requests, replies): (Vec<Req>, Vec<_>) = batch.into_iter().unzip();
            let n = replies.len();
            match commit(requests).await {
                Ok(answers) if answers.len() == n => {
                    for (reply, a) in replies.into_iter().zip(answers) {
                        let _ = reply.send(Ok(a));
                    }
                }
                Ok(answers) => {
                    let message = format!("{} answers for {n} requests", answers.len());
                    for reply in replies {
                        let _ = reply.send(Err(message.clone()));
                    }
                }
                Err(message) => {
                    for reply in replies {
                        let _ = reply.send(Err(message.clone()));
                    }
                }
            }
            // Our own request may have been beyond `max_batch`: go round again.
        }
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Queued<Req, Resp>>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Requests queued while a commit runs go together in the next one, in order, and each
    /// caller gets its own answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_queued_during_a_commit_share_the_next() {
        let group = Arc::new(GroupCommit::<u32, u32>::new(1_000));
        let commits = Arc::new(std::sync::Mutex::new(Vec::<Vec<u32>>::new()));
        let commit = {
            let commits = Arc::clone(&commits);
            move |batch: Vec<u32>| {
                let commits = Arc::clone(&commits);
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    commits.lock().unwrap().push(batch.clone());
                    Ok(batch.iter().map(|n| n * 10).collect())
                }
            }
        };
        let mut callers = Vec::new();
        for n in 0..50 {
            let group = Arc::clone(&group);
            let commit = commit.clone();
            callers.push(tokio::spawn(async move { group.submit(n, commit).await }));
            if n == 0 {
                // The first commits alone; everyone else queues while it runs.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        for (n, caller) in callers.into_iter().enumerate() {
            assert_eq!(caller.await.unwrap(), Ok(n as u32 * 10));
        }
        let commits = commits.lock().unwrap();
        assert!(
            commits.len() < 10,
            "{} commits for 50 requests",
            commits.len()
        );
        assert_eq!(commits[0], vec![0]);
        let all: Vec<u32> = commits.iter().flatten().copied().collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(all.len(), 50);
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }

    /// A batch is never larger than asked, and a caller left out of a full batch is
    /// committed in the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_stay_within_their_size() {
        let group = Arc::new(GroupCommit::<u32, u32>::new(3));
        let largest = Arc::new(AtomicUsize::new(0));
        let mut callers = Vec::new();
        for n in 0..20 {
            let group = Arc::clone(&group);
            let largest = Arc::clone(&largest);
            callers.push(tokio::spawn(async move {
                group
                    .submit(n, |batch: Vec<u32>| {
                        let largest = Arc::clone(&largest);
                        async move {
                            largest.fetch_max(batch.len(), Ordering::Relaxed);
                            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                            Ok(batch)
                        }
                    })
                    .await
            }));
        }
        for (n, caller) in callers.into_iter().enumerate() {
            assert_eq!(caller.await.unwrap(), Ok(n as u32));
        }
        assert!(largest.load(Ordering::Relaxed) <= 3);
    }

    /// With a linger, requests that arrive one by one still go in one full batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_linger_fills_the_batch() {
        for (linger, most) in [(100, 10), (0, 1)] {
            let group = Arc::new(GroupCommit::<u32, u32>::with_linger(
                10,
                std::time::Duration::from_millis(linger),
            ));
            let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut callers = Vec::new();
            for n in 0..10 {
                let group = Arc::clone(&group);
                let sizes = Arc::clone(&sizes);
                callers.push(tokio::spawn(async move {
                    group
                        .submit(n, |batch: Vec<u32>| {
                            let sizes = Arc::clone(&sizes);
                            async move {
                                sizes.lock().unwrap().push(batch.len());
                                Ok(batch)
                            }
                        })
                        .await
                }));
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            for caller in callers {
                caller.await.unwrap().unwrap();
            }
            let sizes = sizes.lock().unwrap();
            assert_eq!(
                sizes.iter().copied().max(),
                Some(most),
                "linger {linger}: {sizes:?}"
            );
        }
    }

    /// A failed commit fails every request of its batch with the store's message.
    #[tokio::test]
    async fn a_failed_commit_answers_its_requests_with_the_error() {
        let group = GroupCommit::<u32, u32>::new(10);
        let answer = group
            .submit(1, |_| async { Err::<Vec<u32>, _>("disk full".to_owned()) })
            .await;
        assert_eq!(answer, Err("disk full".to_owned()));
    }
}
