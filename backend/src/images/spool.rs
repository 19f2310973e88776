//! The spool: a bounded local cache of image data on its way between sites.
//!
//! A source image is read once into a file while every target streams from that file as
//! it grows, each at its own pace: a slow target never holds the source or the others
//! back, memory stays at one buffer per reader whatever the image size, and a target
//! retried later is served from the file instead of from the source over a slow link
//! again. Finished files are kept until the spool's size limit forces the least recently
//! used ones out; a file being filled or read is never evicted.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::watch;

/// Bytes read from the file in one go by a target's upload.
const READ_CHUNK: usize = 256 * 1024;
/// What the spool writes at once.
const WRITE_BATCH: usize = 1024 * 1024;

/// One source image: the site it is read from and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceKey {
    pub site: String,
    pub image_id: String,
}

impl SourceKey {
    /// A file name that holds whatever a site or an id contains.
    fn file_stem(&self) -> String {
        let safe = |text: &str| {
            text.bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => {
                        (b as char).to_string()
                    }
                    other => format!("_{other:02x}"),
                })
                .collect::<String>()
        };
        format!("{}__{}", safe(&self.site), safe(&self.image_id))
    }
}

/// What is known of a finished file, kept beside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Spooled {
    pub size: u64,
    /// sha512 of the data, hex, as Glance's `os_hash_value`.
    pub sha512: String,
    /// md5 of the data, hex, as Glance's `checksum`.
    pub md5: String,
    /// The source's image record as its Glance showed it when the copy began.
    pub record: Value,
}

/// How far a file is.
#[derive(Debug, Clone)]
pub enum Fill {
    Filling { written: u64 },
    Done(Arc<Spooled>),
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Source(String),
}

/// One image's file, being filled or finished.
pub struct Entry {
    path: PathBuf,
    fill: watch::Receiver<Fill>,
}

impl Entry {
    pub fn fill(&self) -> Fill {
        self.fill.borrow().clone()
    }

    /// Waits for the file to be whole, or for the reason it will not be.
    pub async fn finished(&self) -> Result<Arc<Spooled>, SpoolError> {
        let mut fill = self.fill.clone();
        loop {
            match &*fill.borrow_and_update() {
                Fill::Done(spooled) => return Ok(spooled.clone()),
                Fill::Failed(why) => return Err(SpoolError::Source(why.clone())),
                Fill::Filling { .. } => {}
            }
            if fill.changed().await.is_err() {
                return Err(SpoolError::Source("the source read stopped".into()));
            }
        }
    }

    /// The data from the start, as fast as the file fills; ends with an error if the
    /// source read fails.
    pub fn reader(
        self: &Arc<Self>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let state = Reading {
            entry: self.clone(),
            file: None,
            at: 0,
            fill: self.fill.clone(),
        };
        futures::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            loop {
                let (available, done) = match &*state.fill.borrow_and_update() {
                    Fill::Filling { written } => (*written, false),
                    Fill::Done(spooled) => (spooled.size, true),
                    Fill::Failed(why) => {
                        return Some((Err(std::io::Error::other(why.clone())), None));
                    }
                };
                if state.at < available {
                    let want = usize::try_from(available - state.at)
                        .unwrap_or(READ_CHUNK)
                        .min(READ_CHUNK);
                    return match state.read(want).await {
                        Ok(chunk) => Some((Ok(chunk), Some(state))),
                        Err(error) => Some((Err(error), None)),
                    };
                }
                if done {
                    return None;
                }
                if state.fill.changed().await.is_err() {
                    let error = std::io::Error::other("the source read stopped");
                    return Some((Err(error), None));
                }
            }
        })
    }
}

struct Reading {
    entry: Arc<Entry>,
    file: Option<tokio::fs::File>,
    at: u64,
    fill: watch::Receiver<Fill>,
}

impl Reading {
    async fn read(&mut self, want: usize) -> Result<Bytes, std::io::Error> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = tokio::fs::File::open(&self.entry.path).await?;
                file.seek(SeekFrom::Start(self.at)).await?;
                self.file.insert(file)
            }
        };
        let mut buffer = vec![0u8; want];
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Err(std::io::Error::other(
                "the spool file is shorter than written",
            ));
        }
        buffer.truncate(read);
        self.at += read as u64;
        Ok(Bytes::from(buffer))
    }
}

/// Where a source's data comes from when the spool does not hold it.
pub type SourceStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

pub struct Spool {
    dir: PathBuf,
    limit: u64,
    /// Files being filled or read, so that two copies of one source share one read.
    open: Mutex<HashMap<SourceKey, Arc<Entry>>>,
    /// One opener at a time per source: the second copy to start waits for the first to
    /// open the source, then shares its file instead of reading the source too.
    opening: Mutex<HashMap<SourceKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl Spool {
    pub fn new(dir: PathBuf, limit: u64) -> Self {
        Spool {
            dir,
            limit,
            open: Mutex::new(HashMap::new()),
            opening: Mutex::new(HashMap::new()),
        }
    }

    /// The data file, and beside it what is known of it once it is whole: a data file
    /// without its `.json` is unfinished (a console stopped mid-read) and is filled again.
    fn paths(&self, key: &SourceKey) -> (PathBuf, PathBuf) {
        let stem = key.file_stem();
        (
            self.dir.join(format!("{stem}.data")),
            self.dir.join(format!("{stem}.json")),
        )
    }

    /// What is known of `key`'s file if it is whole (in use or on disk).
    pub async fn finished(&self, key: &SourceKey) -> Option<Arc<Spooled>> {
        if let Some(Fill::Done(spooled)) = self.shared(key).map(|e| e.fill()) {
            return Some(spooled);
        }
        let (data, meta) = self.paths(key);
        read_meta(&meta, &data).await.map(Arc::new)
    }

    /// The file of `key`: shared if it is being filled or read, from disk if a finished
    /// copy is there, otherwise filled from `source()` (called at most once here).
    pub async fn entry<F, Fut>(&self, key: &SourceKey, source: F) -> Result<Arc<Entry>, SpoolError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(SourceStream, Value), String>>,
    {
        let lock = self
            .opening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let opened = {
            let _one_opener = lock.lock().await;
            self.open_entry(key, source).await
        };
        let mut opening = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's and this call's: nobody else waits on this key.
        if Arc::strong_count(&lock) <= 2 {
            opening.remove(key);
        }
        opened
    }

    async fn open_entry<F, Fut>(&self, key: &SourceKey, source: F) -> Result<Arc<Entry>, SpoolError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(SourceStream, Value), String>>,
    {
        if let Some(entry) = self.shared(key) {
            return Ok(entry);
        }
        let (data, meta) = self.paths(key);
        if let Some(spooled) = read_meta(&meta, &data).await {
            // Touched, so eviction sees it as recently used.
            std::fs::File::options()
                .write(true)
                .open(&data)?
                .set_modified(std::time::SystemTime::now())?;
            let (_, fill) = watch::channel(Fill::Done(Arc::new(spooled)));
            return Ok(self.share(key, Entry { path: data, fill }));
        }
        let (stream, record) = source().await.map_err(SpoolError::Source)?;
        tokio::fs::create_dir_all(&self.dir).await?;
        let _ = tokio::fs::remove_file(&meta).await;
        let file = tokio::fs::File::create(&data).await?;
        let (sender, fill) = watch::channel(Fill::Filling { written: 0 });
        let entry = self.share(
            key,
            Entry {
                path: data.clone(),
                fill,
            },
        );
        tokio::spawn(fill_file(file, stream, sender, record, data, meta));
        Ok(entry)
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<SourceKey, Arc<Entry>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shared(&self, key: &SourceKey) -> Option<Arc<Entry>> {
        let open = self.open();
        open.get(key)
            .filter(|e| !matches!(e.fill(), Fill::Failed(_)))
            .cloned()
    }

    fn share(&self, key: &SourceKey, entry: Entry) -> Arc<Entry> {
        let entry = Arc::new(entry);
        let mut open = self.open();
        // Entries nobody holds any more leave the map: it stays as small as the copies
        // under way.
        open.retain(|_, e| Arc::strong_count(e) > 1 || matches!(e.fill(), Fill::Filling { .. }));
        open.insert(key.clone(), entry.clone());
        entry
    }

    /// Removes least recently used files until the spool fits its limit; files being
    /// filled or read stay.
    pub async fn evict(&self) -> Result<u64, SpoolError> {
        let in_use: Vec<PathBuf> = {
            let open = self.open();
            open.values()
                .filter(|e| Arc::strong_count(e) > 1 || matches!(e.fill(), Fill::Filling { .. }))
                .map(|e| e.path.clone())
                .collect()
        };
        let mut finished = Vec::new();
        let mut total = 0u64;
        let Ok(mut dir) = tokio::fs::read_dir(&self.dir).await else {
            return Ok(0);
        };
        while let Some(item) = dir.next_entry().await? {
            let path = item.path();
            let metadata = item.metadata().await?;
            total += metadata.len();
            if path.extension().is_some_and(|e| e == "data") && !in_use.contains(&path) {
                let used = metadata.modified().ok();
                finished.push((used, path, metadata.len()));
            }
        }
        finished.sort_by_key(|(used, _, _)| *used);
        let mut freed = 0;
        for (_, path, size) in finished {
            if total <= self.limit {
                break;
            }
            let _ = tokio::fs::remove_file(path.with_extension("json")).await;
            tokio::fs::remove_file(&path).await?;
            total = total.saturating_sub(size);
            freed += size;
        }
        Ok(freed)
    }
}

async fn read_meta(meta: &Path, data: &Path) -> Option<Spooled> {
    let text = tokio::fs::read(meta).await.ok()?;
    let spooled: Spooled = serde_json::from_slice(&text).ok()?;
    let on_disk = tokio::fs::metadata(data).await.ok()?.len();
    (on_disk == spooled.size).then_some(spooled)
}

/// Copies the source into the file, hashing as it goes, and tells readers how far it is.
async fn fill_file(
    mut file: tokio::fs::File,
    mut stream: SourceStream,
    sender: watch::Sender<Fill>,
    record: Value,
    data: PathBuf,
    meta: PathBuf,
) {
    let mut sha512 = sha2::Sha512::new();
    // With the source's sha512 to check the read against, its md5 is taken from its
    // record and not computed again: md5 costs as much CPU as the copy itself on a
    // small machine (decision 15).
    let known_md5 = record["checksum"]
        .as_str()
        .filter(|_| record["os_hash_algo"] == "sha512" && record["os_hash_value"].is_string())
        .map(str::to_owned);
    let mut md5 = known_md5.is_none().then(md5::Md5::new);
    let mut written = 0u64;
    let mut pending = bytes::BytesMut::with_capacity(WRITE_BATCH);
    let result: Result<(), String> = async {
        loop {
            let next = stream.next().await.transpose()?;
            if let Some(chunk) = &next {
                pending.extend_from_slice(chunk);
            }
            // Source chunks are a few KiB: written, hashed and announced by the MiB, so
            // that each step is not a file system call per network read.
            if pending.len() >= WRITE_BATCH || (next.is_none() && !pending.is_empty()) {
                let batch = pending.split().freeze();
                file.write_all(&batch)
                    .await
                    .map_err(|e| format!("spool: {e}"))?;
                // Readers open the file themselves: what is flushed is what they may read.
                file.flush().await.map_err(|e| format!("spool: {e}"))?;
                sha512.update(&batch);
                if let Some(md5) = &mut md5 {
                    md5.update(&batch);
                }
                written += batch.len() as u64;
                sender.send_replace(Fill::Filling { written });
            }
            if next.is_none() {
                break;
            }
        }
        file.sync_all().await.map_err(|e| format!("spool: {e}"))?;
        Ok(())
    }
    .await;
    let finished = match result {
        Ok(()) => {
            let spooled = Spooled {
                size: written,
                sha512: hex(&sha512.finalize()),
                md5: match (md5, known_md5) {
                    (Some(md5), _) => hex(&md5.finalize()),
                    (None, known) => known.unwrap_or_default(),
                },
                record,
            };
            match check_against_record(&spooled) {
                Err(why) => Err(why),
                Ok(()) => publish(&spooled, &meta).await.map(|()| spooled),
            }
        }
        Err(why) => Err(why),
    };
    match finished {
        Ok(spooled) => {
            sender.send_replace(Fill::Done(Arc::new(spooled)));
        }
        Err(why) => {
            let _ = tokio::fs::remove_file(&data).await;
            sender.send_replace(Fill::Failed(why));
        }
    }
}

/// The source's own figures, where its Glance gave them, must match what was read.
fn check_against_record(spooled: &Spooled) -> Result<(), String> {
    let record = &spooled.record;
    if let Some(size) = record["size"].as_u64() {
        if size != spooled.size {
            return Err(format!(
                "the source sent {} bytes of an image of {size}",
                spooled.size
            ));
        }
    }
    if record["os_hash_algo"] == "sha512" {
        if let Some(expected) = record["os_hash_value"].as_str() {
            if expected != spooled.sha512 {
                return Err(
                    "the data read from the source does not match its os_hash_value".into(),
                );
            }
        }
    }
    if let Some(expected) = record["checksum"].as_str() {
        if expected != spooled.md5 {
            return Err("the data read from the source does not match its checksum".into());
        }
    }
    Ok(())
}

/// The file is whole once what is known of it is written beside it.
async fn publish(spooled: &Spooled, meta: &Path) -> Result<(), String> {
    let text = serde_json::to_vec(spooled).map_err(|e| e.to_string())?;
    tokio::fs::write(meta, text)
        .await
        .map_err(|e| format!("spool: {e}"))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> SourceKey {
        SourceKey {
            site: "site-001".into(),
            image_id: id.into(),
        }
    }

    fn temp_spool(limit: u64) -> Spool {
        let dir = std::env::temp_dir().join(format!("overcast-spool-test-{}", uuid_like()));
        Spool::new(dir, limit)
    }

    fn uuid_like() -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        )
    }

    async fn collect(stream: impl Stream<Item = Result<Bytes, std::io::Error>>) -> Vec<u8> {
        let chunks: Vec<_> = stream.collect().await;
        chunks
            .into_iter()
            .flat_map(|c| c.map(|b| b.to_vec()).unwrap_or_default())
            .collect()
    }

    #[tokio::test]
    async fn readers_follow_the_file_as_it_fills_and_a_second_copy_reads_no_source() {
        let spool = temp_spool(u64::MAX);
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(1);
        let source: SourceStream = Box::pin(futures::stream::unfold(receiver, |mut r| async {
            r.recv().await.map(|item| (item, r))
        }));
        let entry = spool
            .entry(&key("a"), || async move { Ok((source, json_record())) })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (fast, slow) = (entry.reader(), entry.reader());
        let fast = tokio::spawn(collect(fast));
        let slow = tokio::spawn(collect(slow));
        let mut sent = Vec::new();
        for n in 0..20u8 {
            let chunk = vec![n; 10_000];
            sent.extend_from_slice(&chunk);
            sender
                .send(Ok(Bytes::from(chunk)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        drop(sender);
        assert_eq!(fast.await.unwrap_or_default(), sent);
        assert_eq!(slow.await.unwrap_or_default(), sent);
        let spooled = entry.finished().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spooled.size, 200_000);
        assert_eq!(spooled.sha512, hex(&sha2::Sha512::digest(&sent)));

        // From disk, by a spool that never saw the read (a restarted console).
        let again = Spool::new(spool.dir.clone(), u64::MAX);
        let entry = again
            .entry(&key("a"), || async {
                Err::<(SourceStream, Value), _>("the source must not be read again".to_owned())
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(collect(entry.reader()).await, sent);
        let _ = std::fs::remove_dir_all(&spool.dir);
    }

    #[tokio::test]
    async fn a_source_that_breaks_off_fails_its_readers_and_is_read_anew_next_time() {
        let spool = temp_spool(u64::MAX);
        let broken: SourceStream = Box::pin(futures::stream::iter([
            Ok(Bytes::from_static(b"half")),
            Err("connection reset".to_owned()),
        ]));
        let entry = spool
            .entry(&key("b"), || async move { Ok((broken, json_record())) })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let read: Vec<_> = entry.reader().collect().await;
        assert!(read.iter().any(Result::is_err));
        assert!(entry.finished().await.is_err());
        let whole: SourceStream =
            Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"whole"))]));
        let entry = spool
            .entry(&key("b"), || async move { Ok((whole, json_record())) })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(collect(entry.reader()).await, b"whole");
        let _ = std::fs::remove_dir_all(&spool.dir);
    }

    #[tokio::test]
    async fn eviction_removes_the_least_recently_used_files_not_in_use() {
        let spool = temp_spool(2_500);
        let mut kept = Vec::new();
        for id in ["old", "mid", "new"] {
            let data: SourceStream =
                Box::pin(futures::stream::iter([Ok(Bytes::from(vec![1u8; 1_000]))]));
            let entry = spool
                .entry(&key(id), || async move { Ok((data, json_record())) })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            entry.finished().await.unwrap_or_else(|e| panic!("{e}"));
            if id == "old" {
                // Still being read by a slow target: it stays whatever its age.
                kept.push(entry);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        spool.evict().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(spool.finished(&key("old")).await.is_some());
        assert!(spool.finished(&key("mid")).await.is_none());
        assert!(spool.finished(&key("new")).await.is_some());
        drop(kept);
        let _ = std::fs::remove_dir_all(&spool.dir);
    }

    fn json_record() -> Value {
        serde_json::json!({"status": "active"})
    }

    use std::time::Duration;
}
