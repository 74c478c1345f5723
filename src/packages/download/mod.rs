//! Downloads over HTTP(S) (reqwest, rustls): each file goes to a temporary file beside its
//! destination, is checked against its SHA-256, and only then renamed into place, so nothing
//! half-downloaded is ever used. Transient failures (connection errors, 5xx, truncated
//! bodies, checksum mismatches) are retried; several files download in parallel, with
//! progress bars on a terminal or a plain line per file otherwise. The retry loop is in
//! [`retry`], the progress display in [`progress`], the errors in [`error`].

mod error;
mod progress;
mod retry;

pub use error::DownloadError;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use error::{chain, status_hint};
use progress::{Display, Meter};

use crate::engine::Progress;
use crate::formats::checksums;
use crate::values::redact_userinfo;

/// Attempts per file before giving up.
pub const ATTEMPTS: u32 = 4;
/// Files downloaded at once.
pub const PARALLEL: usize = 4;
/// The largest checksum file or signing key accepted.
const SMALL_LIMIT: u64 = 1 << 20;
/// The largest file downloaded: release binaries and tarballs are a few hundred MiB at most
/// (kubelet ~100 MiB); a larger body is a wrong URL or a hostile mirror filling the disk.
pub const MAX_DOWNLOAD: u64 = 1 << 30;

/// A URL as it may be shown: user information (credentials) replaced by `<redacted>`.
fn shown(url: &str) -> String {
    redact_userinfo(url)
}

/// A warning for a plain `http://` source: nothing protects what it serves, and the
/// checksums come from the same place, so they cannot either.
pub fn plain_http_warning(what: &str, url: &str) -> Option<String> {
    url.starts_with("http://").then(|| {
        format!(
            "{what} {} is plain http://: downloads and their checksums can be altered on the way; use an https:// mirror",
            shown(url)
        )
    })
}

/// How the downloader connects and reports.
#[derive(Debug, Clone)]
pub struct Options {
    /// Proxy URL for http and https, if any.
    pub proxy: Option<String>,
    /// Comma-separated hosts, domains and networks reached directly (NO_PROXY syntax).
    pub no_proxy: Option<String>,
    /// Progress display.
    pub progress: Progress,
    /// Attempts per file.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Limit for connecting, and for each read or write once connected (a stall).
    pub stall_timeout: Duration,
    /// The largest body accepted for one file ([`MAX_DOWNLOAD`] by default).
    pub max_bytes: u64,
    /// The host's wait reporter: without progress bars, a download that lasts says how far
    /// it is at least every 10 s (as its style says: lines, JSON events, or nothing).
    pub waits: Option<std::sync::Arc<crate::host::progress::Progress>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            proxy: None,
            no_proxy: None,
            progress: Progress::Quiet,
            attempts: ATTEMPTS,
            backoff: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(60),
            max_bytes: MAX_DOWNLOAD,
            waits: None,
        }
    }
}

/// Where the expected digest of a download comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// A `.sha256` file at this URL.
    Url(String),
    /// This lowercase hex SHA-256.
    Sha256(String),
}

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct Job {
    /// File name shown in progress and errors.
    pub file: String,
    /// Where it comes from.
    pub url: String,
    /// What it must hash to.
    pub checksum: Checksum,
    /// Where it goes (a real path; its directory is created).
    pub dest: PathBuf,
}

/// A fetched, verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Bytes transferred for it by this run (0 when a verified copy was already there).
    pub downloaded: u64,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: String,
}

fn hex_digest(hasher: Sha256) -> String {
    hex::encode(hasher.finalize())
}

/// The SHA-256 of a file, or `None` when it cannot be read.
pub fn file_sha256(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hex_digest(hasher))
}

/// Downloads files over HTTP(S).
pub struct Downloader {
    client: reqwest::blocking::Client,
    options: Options,
}

impl Downloader {
    /// A downloader with these options. The process environment is never read here: a
    /// proxy comes only from `options`.
    pub fn new(options: Options) -> Result<Self, DownloadError> {
        let mut builder = reqwest::blocking::Client::builder()
            .no_proxy()
            .user_agent(concat!("bootstrap/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.stall_timeout)
            .timeout(options.stall_timeout);
        if let Some(proxy) = &options.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| {
                    DownloadError::Setup(format!("proxy `{}`: {}", shown(proxy), chain(&e)))
                })?
                .no_proxy(
                    options
                        .no_proxy
                        .as_deref()
                        .and_then(reqwest::NoProxy::from_string),
                );
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| DownloadError::Setup(chain(&e)))?;
        Ok(Downloader { client, options })
    }

    fn get(&self, file: &str, url: &str) -> Result<reqwest::blocking::Response, DownloadError> {
        let response = self
            .client
            .get(url)
            .send()
            .map_err(|e| DownloadError::Network {
                file: file.to_string(),
                url: shown(url),
                reason: chain(&e),
            })?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(DownloadError::Status {
                file: file.to_string(),
                url: shown(url),
                status,
                hint: status_hint(status),
            });
        }
        Ok(response)
    }

    /// Runs `once` under the retry policy of the options.
    fn retry<T>(&self, once: impl FnMut() -> Result<T, DownloadError>) -> Result<T, DownloadError> {
        let policy = retry::Policy {
            attempts: self.options.attempts,
            backoff: self.options.backoff,
        };
        retry::retry(policy, std::thread::sleep, once)
    }

    /// A small file (a checksum or a signing key) in memory, with retries.
    pub fn fetch_small(&self, file: &str, url: &str) -> Result<Vec<u8>, DownloadError> {
        self.retry(|| {
            let response = self.get(file, url)?;
            let mut body = Vec::new();
            response
                .take(SMALL_LIMIT + 1)
                .read_to_end(&mut body)
                .map_err(|e| DownloadError::Network {
                    file: file.to_string(),
                    url: shown(url),
                    reason: chain(&e),
                })?;
            if body.len() as u64 > SMALL_LIMIT {
                return Err(DownloadError::TooLarge {
                    file: file.to_string(),
                    url: shown(url),
                    limit: SMALL_LIMIT,
                });
            }
            Ok(body)
        })
    }

    fn expected_digest(&self, job: &Job) -> Result<String, DownloadError> {
        match &job.checksum {
            Checksum::Sha256(hex) => Ok(hex.clone()),
            Checksum::Url(url) => {
                let name = format!("{}.sha256", job.file);
                let body = self.fetch_small(&name, url)?;
                checksums::parse_digest(&String::from_utf8_lossy(&body)).map_err(|reason| {
                    DownloadError::BadChecksumFile {
                        file: job.file.clone(),
                        url: shown(url),
                        reason,
                    }
                })
            }
        }
    }

    /// One attempt: stream into a temporary file beside `job.dest`, hash, compare, rename.
    fn download_once(
        &self,
        job: &Job,
        expected: &str,
        meter: &Meter,
    ) -> Result<Fetched, DownloadError> {
        let mut response = self.get(&job.file, &job.url)?;
        let announced = response.content_length();
        if announced.is_some_and(|n| n > self.options.max_bytes) {
            return Err(self.oversize(job));
        }
        meter.start(announced);
        let dir = job.dest.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).map_err(io_error(job, dir))?;
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{}.part-", job.file))
            .tempfile_in(dir)
            .map_err(io_error(job, dir))?;
        let (got, actual) = self.copy_body(job, &mut response, announced, &mut temp, meter)?;
        if actual != expected {
            return Err(DownloadError::Checksum {
                file: job.file.clone(),
                url: shown(&job.url),
                expected: expected.to_string(),
                actual,
            });
        }
        temp.as_file()
            .sync_all()
            .map_err(io_error(job, &job.dest))?;
        temp.persist(&job.dest)
            .map_err(|e| io_error(job, &job.dest)(e.error))?;
        Ok(Fetched {
            downloaded: got,
            size: got,
            sha256: actual,
        })
    }

    fn oversize(&self, job: &Job) -> DownloadError {
        DownloadError::Oversize {
            file: job.file.clone(),
            url: shown(&job.url),
            limit: self.options.max_bytes,
        }
    }

    /// Streams the body into `temp` while hashing it: the bytes received and their SHA-256.
    /// A body cut short of its announced length is [`DownloadError::Truncated`]; one larger
    /// than the limit is refused as soon as it passes it.
    fn copy_body(
        &self,
        job: &Job,
        body: &mut impl Read,
        announced: Option<u64>,
        temp: &mut tempfile::NamedTempFile,
        meter: &Meter,
    ) -> Result<(u64, String), DownloadError> {
        let truncated = |got, expected| DownloadError::Truncated {
            file: job.file.clone(),
            url: shown(&job.url),
            got,
            expected,
        };
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut got: u64 = 0;
        loop {
            let n = match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Err(match announced {
                        Some(expected) if got < expected => truncated(got, expected),
                        _ => DownloadError::Network {
                            file: job.file.clone(),
                            url: shown(&job.url),
                            reason: chain(&e),
                        },
                    });
                }
            };
            got += n as u64;
            if got > self.options.max_bytes {
                return Err(self.oversize(job));
            }
            hasher.update(&buffer[..n]);
            temp.write_all(&buffer[..n])
                .map_err(io_error(job, temp.path()))?;
            meter.advance(n as u64);
        }
        if let Some(expected) = announced.filter(|e| got < *e) {
            return Err(truncated(got, expected));
        }
        Ok((got, hex_digest(hasher)))
    }

    /// Fetches one file: its checksum first, then the body unless a verified copy is
    /// already at `job.dest` (a re-run resumes there).
    pub fn fetch(&self, job: &Job) -> Result<Fetched, DownloadError> {
        self.fetch_with(job, &Meter::None)
    }

    fn fetch_with(&self, job: &Job, meter: &Meter) -> Result<Fetched, DownloadError> {
        let expected = self.expected_digest(job)?;
        if file_sha256(&job.dest).as_deref() == Some(expected.as_str()) {
            let size = std::fs::metadata(&job.dest).map_or(0, |m| m.len());
            return Ok(Fetched {
                downloaded: 0,
                size,
                sha256: expected,
            });
        }
        self.retry(|| self.download_once(job, &expected, meter))
    }

    /// Fetches every job, `parallel` at a time. All are attempted; the first failure (in
    /// job order) is returned when any failed.
    pub fn fetch_all(&self, jobs: &[Job], parallel: usize) -> Result<Vec<Fetched>, DownloadError> {
        let display = Display::new(self.options.progress)
            .with_waits(self.options.waits.as_deref(), self.options.stall_timeout);
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Fetched, DownloadError>>>> =
            Mutex::new((0..jobs.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(job) = jobs.get(i) else { break };
                        let meter = display.meter(job);
                        let started = Instant::now();
                        let result = self.fetch_with(job, &meter);
                        display.finish(job, &result, started.elapsed(), &meter);
                        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .map(|r| r.unwrap_or_else(|| unreachable!("every job is taken by a worker")))
            .collect()
    }
}

/// Turns a write error at `path` into [`DownloadError::Io`] naming the job.
fn io_error<'a>(job: &'a Job, path: &Path) -> impl Fn(std::io::Error) -> DownloadError + 'a {
    let path = path.display().to_string();
    move |source| DownloadError::Io {
        file: job.file.clone(),
        url: shown(&job.url),
        path: path.clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_proxy_is_a_setup_error() {
        let options = Options {
            proxy: Some("::not a url".into()),
            ..Options::default()
        };
        assert!(matches!(
            Downloader::new(options),
            Err(DownloadError::Setup(_))
        ));
    }
}
