//! The tokio loop around the shared [`Transfer`]: wait for a task's event, the machine's timer
//! or the consumer, and let the transfer act.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use stowage_proto::Instant;
use stowage_ringslot::transfer::{GetError, Transfer};
use stowage_ringslot::{Slot, Summary};
use tokio::sync::mpsc;

use super::fetch::Event;
use super::io::{Sink, TokioIo};

/// What a finished run leaves: the machine's summary and the destination.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) summary: Summary,
    pub(super) sink: Sink,
}

/// One download: the transfer, its IO, the events of its tasks.
pub(super) struct Engine {
    transfer: Transfer,
    io: TokioIo,
    events: mpsc::UnboundedReceiver<Event>,
    epoch: tokio::time::Instant,
    /// Stream mode: the slot of the chunk waiting in the channel for the consumer.
    in_channel: Option<Slot>,
    progress: Option<Arc<AtomicU64>>,
    /// Bytes already added to `progress`.
    published: u64,
}

impl Engine {
    pub(super) fn new(
        transfer: Transfer,
        io: TokioIo,
        events: mpsc::UnboundedReceiver<Event>,
        epoch: tokio::time::Instant,
        progress: Option<Arc<AtomicU64>>,
    ) -> Self {
        Engine { transfer, io, events, epoch, in_channel: None, progress, published: 0 }
    }

    fn now(&self) -> Instant {
        Instant::from_elapsed(self.epoch.elapsed())
    }

    /// Runs to the end. In stream mode, delivered bytes go to `out` as the consumer takes
    /// them; a consumer that goes away cancels the download. Every task still running when it
    /// returns is aborted.
    pub(super) async fn run(
        mut self,
        out: Option<mpsc::Sender<Result<Bytes, GetError>>>,
    ) -> Result<Finished, GetError> {
        let summary = self.drive(out.as_ref()).await?;
        Ok(Finished { summary, sink: self.io.take_sink() })
    }

    async fn drive(&mut self, out: Option<&mpsc::Sender<Result<Bytes, GetError>>>) -> Result<Summary, GetError> {
        loop {
            let now = self.now();
            self.transfer.pump(&mut self.io, now)?;
            self.publish();
            if let Some(outcome) = self.transfer.outcome()
                && (outcome.is_err() || self.io.ready.is_empty())
            {
                return outcome.clone().map_err(GetError::from);
            }
            let deadline = self.transfer.poll_timeout().map(|at| self.epoch + at.elapsed_since_epoch());
            tokio::select! {
                event = self.events.recv() => {
                    // The IO holds a sender: the channel never closes.
                    if let Some(event) = event.and_then(|event| self.io.translate(event)) {
                        let now = self.now();
                        self.transfer.handle(&mut self.io, now, event)?;
                    }
                }
                () = sleep_until(deadline) => {
                    let now = self.now();
                    self.transfer.handle_timeout(now);
                }
                // The channel holds one chunk: room in it means the consumer has taken the last
                // one sent, whose slot is released only then.
                permit = reserve(out), if !self.io.ready.is_empty() || self.in_channel.is_some() => {
                    let now = self.now();
                    let Some(permit) = permit else {
                        // The consumer went away.
                        self.transfer.cancel(now);
                        self.transfer.pump(&mut self.io, now)?;
                        return Err(GetError::Download(stowage_ringslot::DownloadError::Cancelled));
                    };
                    if let Some(slot) = self.in_channel.take() {
                        self.transfer.release(now, slot);
                    }
                    if let Some((slot, bytes)) = self.io.next_ready() {
                        permit.send(Ok(bytes));
                        self.in_channel = Some(slot);
                    }
                }
            }
        }
    }

    /// Adds the bytes delivered (or landed) since the last call to the progress counter.
    fn publish(&mut self) {
        let bytes = self.transfer.bytes();
        if let Some(progress) = &self.progress {
            progress.fetch_add(bytes - self.published, Ordering::Relaxed);
        }
        self.published = bytes;
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A permit to send one item to the consumer; `None` when it went away (or there is none).
async fn reserve(
    out: Option<&mpsc::Sender<Result<Bytes, GetError>>>,
) -> Option<mpsc::Permit<'_, Result<Bytes, GetError>>> {
    out?.reserve().await.ok()
}
