//! The local spool: numbered segment files of framed records, appended by one writer thread
//! with group commit, read back by the shipper.
//!
//! A request hands its encoded record to the spool and waits for the acknowledgement. A task on
//! the runtime gathers the records of every request that runs in the same scheduler round and
//! hands them to the writer thread together; the writer writes each group with one `write` (and
//! `fdatasync` when configured), then acknowledges the whole group. Waking the thread once per
//! record cost two context switches per record on a busy core. The committed position only
//! moves after a write succeeded, so a reader never sees a record that was not acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot, watch};

use super::record::{FRAME_HEADER, SpoolPosition, SpoolRecord};
use crate::tasks::Tasks;

/// Most records or bytes gathered into one write.
const GROUP_MAX_RECORDS: usize = 512;
const GROUP_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Requests waiting for the writer; beyond this they wait for room (never dropped).
pub const QUEUE_CAPACITY: usize = 10_000;
/// Gathered batches on their way to the writer thread: one being written, one waiting.
const BATCHES_IN_FLIGHT: usize = 2;
/// Most bytes the shipper reads per batch (a frame larger than this is still read whole).
const READ_MAX_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SpoolError {
    #[error("the log spool is full")]
    Full,
    #[error("the log spool could not be written: {0}")]
    Io(String),
    #[error("the log spool is closed")]
    Closed,
}

#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    /// Bytes on disk not yet shipped, beyond which new records are refused.
    pub max_bytes: u64,
    pub segment_bytes: u64,
    pub fsync: bool,
    /// How long the writer waits after the first queued record before writing, to gather more
    /// into one write under load (Kafka's `linger.ms`). Requests wait for it too.
    pub linger: std::time::Duration,
}

enum Command {
    Append {
        frame: Vec<u8>,
        ack: Option<oneshot::Sender<Result<(), SpoolError>>>,
    },
    Close(oneshot::Sender<()>),
}

/// The request side of the spool: cheap to clone.
#[derive(Clone)]
pub struct SpoolWriter {
    commands: mpsc::Sender<Command>,
    unshipped_bytes: Arc<AtomicU64>,
    /// Detached appends still waiting for room in the queue; closing waits for them, so a
    /// record handed over before the close is written rather than refused behind it.
    detached: Tasks,
}

impl SpoolWriter {
    /// Appends and waits until the record is written to the OS (and synced, if configured).
    pub async fn append(&self, frame: Vec<u8>) -> Result<(), SpoolError> {
        let (ack, acked) = oneshot::channel();
        self.commands
            .send(Command::Append {
                frame,
                ack: Some(ack),
            })
            .await
            .map_err(|_| SpoolError::Closed)?;
        acked.await.map_err(|_| SpoolError::Closed)?
    }

    /// Appends without waiting (for paths that have nobody to wait: a client that left).
    pub fn append_detached(&self, frame: Vec<u8>) {
        match self.commands.try_send(Command::Append { frame, ack: None }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(command)) => {
                let commands = self.commands.clone();
                self.detached.spawn(async move {
                    if commands.send(command).await.is_err() {
                        tracing::error!("log record after the spool closed: lost");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("log record after the spool closed: lost");
            }
        }
    }

    /// Writes what is queued (detached appends included) and stops the writer thread.
    pub async fn close(&self) {
        self.detached.stop();
        self.detached.wait().await;
        let (done, closed) = oneshot::channel();
        if self.commands.send(Command::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    /// Records waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        QUEUE_CAPACITY - self.commands.capacity()
    }

    pub fn unshipped_bytes(&self) -> u64 {
        self.unshipped_bytes.load(Ordering::Relaxed)
    }
}

/// Segment files in the spool directory, by number.
pub fn segments(dir: &Path) -> std::io::Result<Vec<(u64, u64)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".spool"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((number, entry.metadata()?.len()));
    }
    found.sort_unstable();
    Ok(found)
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.spool"))
}

/// Starts the writer thread on a new segment `first_segment`, and on `tasks` the task that
/// feeds it (it ends once the writer is closed); `existing_bytes` is what older segments still
/// hold. Returns the writer and the committed position.
pub fn start_writer(
    settings: SpoolSettings,
    first_segment: u64,
    existing_bytes: u64,
    tasks: &Tasks,
) -> std::io::Result<(SpoolWriter, watch::Receiver<SpoolPosition>, Arc<AtomicU64>)> {
    let unshipped_bytes = Arc::new(AtomicU64::new(existing_bytes));
    let (commands, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let position = SpoolPosition {
        segment: first_segment,
        offset: 0,
    };
    let file = open_segment(&settings.dir, first_segment)?;
    let (committed_tx, committed) = watch::channel(position);
    let (batches, batch_receiver) = mpsc::channel(BATCHES_IN_FLIGHT);
    let thread_bytes = unshipped_bytes.clone();
    std::thread::Builder::new()
        .name("tollgate-spool".into())
        .spawn(move || {
            Writer {
                settings,
                file,
                position,
                committed: committed_tx,
                unshipped_bytes: thread_bytes,
            }
            .run(batch_receiver)
        })?;
    tasks.spawn(gather(receiver, batches));
    Ok((
        SpoolWriter {
            commands,
            unshipped_bytes: unshipped_bytes.clone(),
            detached: Tasks::new(),
        },
        committed,
        unshipped_bytes,
    ))
}

fn open_segment(dir: &Path, number: u64) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, number))
}

/// Moves queued commands to the writer thread in batches, one hand-off per scheduler round.
async fn gather(mut commands: mpsc::Receiver<Command>, batches: mpsc::Sender<Vec<Command>>) {
    while let Some(first) = commands.recv().await {
        // The requests already runnable append before this batch is cut.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < GROUP_MAX_RECORDS
            && let Ok(command) = commands.try_recv()
        {
            batch.push(command);
        }
        // Nothing after a close is written: end with it, so shutdown can wait for this task.
        let closing = batch
            .iter()
            .any(|command| matches!(command, Command::Close(_)));
        if batches.send(batch).await.is_err() || closing {
            return;
        }
    }
}

struct Writer {
    settings: SpoolSettings,
    file: File,
    position: SpoolPosition,
    committed: watch::Sender<SpoolPosition>,
    unshipped_bytes: Arc<AtomicU64>,
}

/// The records of one write and who waits for it.
#[derive(Default)]
struct Group {
    bytes: Vec<u8>,
    waiting: Vec<Option<oneshot::Sender<Result<(), SpoolError>>>>,
}

impl Writer {
    fn run(mut self, mut batches: mpsc::Receiver<Vec<Command>>) {
        let mut group = Group::default();
        while let Some(mut batch) = batches.blocking_recv() {
            if !self.settings.linger.is_zero() {
                std::thread::sleep(self.settings.linger);
            }
            while let Ok(more) = batches.try_recv() {
                batch.extend(more);
            }
            for command in batch {
                match command {
                    Command::Append { frame, ack } => {
                        let pending =
                            self.unshipped_bytes.load(Ordering::Relaxed) + group.bytes.len() as u64;
                        if pending + frame.len() as u64 > self.settings.max_bytes {
                            if let Some(ack) = ack {
                                let _ = ack.send(Err(SpoolError::Full));
                            }
                            continue;
                        }
                        group.bytes.extend_from_slice(&frame);
                        group.waiting.push(ack);
                        if group.bytes.len() >= GROUP_MAX_BYTES
                            || group.waiting.len() >= GROUP_MAX_RECORDS
                        {
                            self.commit_group(&mut group);
                        }
                    }
                    Command::Close(done) => {
                        // What was queued after the close is refused: its senders see `Closed`.
                        self.commit_group(&mut group);
                        let _ = self.file.sync_all();
                        let _ = done.send(());
                        return;
                    }
                }
            }
            self.commit_group(&mut group);
        }
    }

    /// Writes the group, acknowledges everyone in it and empties it.
    fn commit_group(&mut self, group: &mut Group) {
        let result = self.commit(&group.bytes);
        for ack in group.waiting.drain(..).flatten() {
            let _ = ack.send(result.clone());
        }
        group.bytes.clear();
    }

    fn commit(&mut self, group: &[u8]) -> Result<(), SpoolError> {
        if group.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(group).and_then(|()| {
            if self.settings.fsync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(error) = written {
            // Cut a partial write off again, so the next group does not land after garbage.
            if self.file.set_len(self.position.offset).is_err() {
                self.roll();
            }
            tracing::error!(%error, "log spool write failed");
            return Err(SpoolError::Io(error.kind().to_string()));
        }
        self.position.offset += group.len() as u64;
        self.unshipped_bytes
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        if self.position.offset >= self.settings.segment_bytes {
            self.roll();
        }
        self.committed.send_replace(self.position);
        Ok(())
    }

    /// Continues in a new segment; the shipper reads the old one to its end first.
    fn roll(&mut self) {
        let next = self.position.segment + 1;
        match open_segment(&self.settings.dir, next) {
            Ok(file) => {
                self.file = file;
                self.position = SpoolPosition {
                    segment: next,
                    offset: 0,
                };
            }
            Err(error) => tracing::error!(%error, "cannot open a new log spool segment"),
        }
    }
}

/// Reads records from `from` up to `to` (exclusive), at most about [`READ_MAX_BYTES`], and
/// returns them with the position reached. A segment before `to.segment` is read to its end; a
/// torn frame in such a segment (the process died mid-write) ends it.
pub fn read_range(
    dir: &Path,
    from: SpoolPosition,
    to: SpoolPosition,
) -> std::io::Result<(Vec<SpoolRecord>, SpoolPosition)> {
    let mut position = from;
    let mut records = Vec::new();
    let mut budget = READ_MAX_BYTES;
    while position < to && budget > 0 {
        let path = segment_path(dir, position.segment);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                position = SpoolPosition {
                    segment: position.segment + 1,
                    offset: 0,
                };
                continue;
            }
            Err(error) => return Err(error),
        };
        let end = if position.segment == to.segment {
            to.offset
        } else {
            file.metadata()?.len()
        };
        if position.offset >= end {
            if position.segment == to.segment {
                break;
            }
            position = SpoolPosition {
                segment: position.segment + 1,
                offset: 0,
            };
            continue;
        }
        file.seek(SeekFrom::Start(position.offset))?;
        let available = crate::convert::saturating_usize(end - position.offset);
        let mut buffer = vec![0; available.min(budget.max(FRAME_HEADER))];
        file.read_exact(&mut buffer)?;
        let mut used = 0;
        while let Some((record, length)) = SpoolRecord::decode(&buffer[used..]) {
            records.push(record);
            used += length;
        }
        if used == 0 {
            let needed = frame_length(&buffer);
            if buffer.len() < available && needed.is_some_and(|n| n <= available) {
                // One frame larger than the budget: read exactly it.
                let mut frame = vec![0; needed.unwrap_or(0)];
                file.seek(SeekFrom::Start(position.offset))?;
                file.read_exact(&mut frame)?;
                if let Some((record, length)) = SpoolRecord::decode(&frame) {
                    records.push(record);
                    position.offset += length as u64;
                    budget = 0;
                    continue;
                }
            }
            if position.segment == to.segment {
                // Committed bytes are always whole frames; this is corruption, not a torn tail.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "corrupt log spool record",
                ));
            }
            tracing::warn!(
                segment = position.segment,
                offset = position.offset,
                "torn log spool tail skipped"
            );
            position = SpoolPosition {
                segment: position.segment + 1,
                offset: 0,
            };
            continue;
        }
        position.offset += used as u64;
        budget = budget.saturating_sub(used);
    }
    Ok((records, position))
}

fn frame_length(bytes: &[u8]) -> Option<usize> {
    let payload = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    Some(FRAME_HEADER + payload)
}

/// Deletes segments wholly before `position`; returns the bytes freed.
pub fn delete_before(dir: &Path, position: SpoolPosition) -> std::io::Result<u64> {
    let mut freed = 0;
    for (number, size) in segments(dir)? {
        if number >= position.segment {
            break;
        }
        std::fs::remove_file(segment_path(dir, number))?;
        freed += size;
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record appended without waiting, while the queue is full, is written before the spool
    /// closes. Closing used to queue its own command ahead of such records, so the writer
    /// stopped first and they were lost at every shutdown under load.
    #[tokio::test]
    async fn close_writes_the_detached_appends_that_waited_for_room() {
        let dir = tempfile::tempdir().unwrap();
        let settings = SpoolSettings {
            dir: dir.path().to_path_buf(),
            max_bytes: u64::MAX,
            segment_bytes: u64::MAX,
            fsync: false,
            linger: std::time::Duration::ZERO,
        };
        let tasks = Tasks::new();
        let (writer, _committed, _bytes) = start_writer(settings, 1, 0, &tasks).unwrap();
        const FRAME: &[u8] = b"0123456789";
        // Nothing runs until this test awaits: past the queue's capacity, appends wait in
        // tasks of their own.
        let records = QUEUE_CAPACITY + 100;
        for _ in 0..records {
            writer.append_detached(FRAME.to_vec());
        }
        writer.close().await;
        let written = std::fs::metadata(segment_path(dir.path(), 1))
            .unwrap()
            .len();
        assert_eq!(written, u64::try_from(records * FRAME.len()).unwrap());
        // The feeding task ended with the close.
        assert!(tasks.shutdown(std::time::Duration::from_secs(10)).await);
    }

    use crate::logs::LogEnd;

    fn frame(id: &str) -> Vec<u8> {
        let end = LogEnd {
            id: id.to_owned(),
            ..LogEnd::default()
        };
        let mut frame = Vec::new();
        SpoolRecord::end_of(&end, b"")
            .encode_into(&mut frame)
            .unwrap_or_default();
        frame
    }

    /// With and without fsync or a linger: acknowledged records are committed and read back in
    /// full, a close writes what was queued, and nothing is written after it.
    #[tokio::test]
    async fn acknowledged_appends_are_committed_and_a_close_ends_the_spool() -> anyhow::Result<()> {
        for (fsync, linger_ms) in [(false, 0), (true, 0), (false, 1)] {
            let dir = tempfile::tempdir()?;
            let settings = SpoolSettings {
                dir: dir.path().to_owned(),
                max_bytes: 1 << 20,
                segment_bytes: 1 << 20,
                fsync,
                linger: std::time::Duration::from_millis(linger_ms),
            };
            let tasks = Tasks::new();
            let (writer, committed, _) = start_writer(settings, 1, 0, &tasks)?;
            let appends = (0..5).map(|i| {
                let writer = writer.clone();
                async move { writer.append(frame(&format!("id-{i}"))).await }
            });
            for appended in futures_util::future::join_all(appends).await {
                appended?;
            }
            let to = *committed.borrow();
            let (records, reached) = read_range(dir.path(), SpoolPosition::default(), to)?;
            assert_eq!(
                (records.len(), reached),
                (5, to),
                "fsync {fsync}, linger {linger_ms}"
            );
            writer.close().await;
            assert_eq!(writer.append(frame("late")).await, Err(SpoolError::Closed));
            assert_eq!(*committed.borrow(), to);
        }
        Ok(())
    }
}
