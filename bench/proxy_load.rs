//! The proxy benchmark's load driver: `--concurrency K` workers, each sending `--requests R`
//! streamed chat completions one after another to `--endpoint` (the fake provider directly, or
//! duet in front of it), reading every answer to its end.
//!
//! Per request it records the time to the first token (from sending the request to the first
//! `data:` event whose `delta` has non-empty `content`) and checks the answer (status 200, exactly
//! `--max-tokens` content events, `data: [DONE]`). It reports the time to first token p50/p99,
//! the streamed tokens per second over the measured phase (all workers together) and each
//! stream's own rate (p50), and errors. With `--pid`, the process's VmRSS (from
//! `/proc/<pid>/status`) idle, with the K streams of an unmeasured opening round all open, and
//! its peak while the measured requests run, and the CPU time it used in the measured phase
//! (`/proc/<pid>/stat`), as the driver's own.
//!
//! Order: one request (start-up work out of the way), the idle RSS, the opening round (K
//! requests at once, their connections then reused), the measured phase. With `--stagger-ms S`
//! worker i starts its first measured request i·S/K ms late, so that K streams of about S ms
//! each overlap evenly instead of all starting at once.
//!
//! The last line is machine-readable:
//! `RESULT <requests> <errors> <ttft_p50_ms> <ttft_p99_ms> <tokens_per_s> <stream_rate_p50>
//!  <rss_idle_kb> <rss_open_kb> <rss_peak_kb> <pid_cpu_ms> <driver_cpu_ms>` (the RSS and CPU
//! fields of `--pid` are 0 without it).
//!
//! usage: proxy_load --endpoint URL --model M [--token T] [--concurrency K] [--requests R]
//!        [--max-tokens N] [--pid PID] [--stagger-ms S]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Notify;

struct Options {
    endpoint: String,
    model: String,
    token: Option<String>,
    concurrency: usize,
    requests: usize,
    max_tokens: usize,
    pid: Option<u32>,
    stagger: Duration,
}

fn usage() -> ! {
    eprintln!(
        "usage: proxy_load --endpoint URL --model M [--token T] [--concurrency K] [--requests R] \
         [--max-tokens N] [--pid PID] [--stagger-ms S]"
    );
    std::process::exit(2);
}

fn options() -> Options {
    let mut o = Options {
        endpoint: String::new(),
        model: String::new(),
        token: None,
        concurrency: 1,
        requests: 100,
        max_tokens: 100,
        pid: None,
        stagger: Duration::ZERO,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else { usage() };
        let number = || value.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--endpoint" => o.endpoint = value.clone(),
            "--model" => o.model = value.clone(),
            "--token" => o.token = Some(value.clone()),
            "--concurrency" => o.concurrency = number().max(1),
            "--requests" => o.requests = number().max(1),
            "--max-tokens" => o.max_tokens = number(),
            "--pid" => o.pid = Some(number() as u32),
            "--stagger-ms" => o.stagger = Duration::from_millis(number() as u64),
            _ => usage(),
        }
    }
    if o.endpoint.is_empty() || o.model.is_empty() {
        usage();
    }
    o
}

/// VmRSS of `pid` in kB (0 when it cannot be read).
fn rss_kb(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else { return 0 };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// User and system CPU time of a process in ms (`/proc/<pid>/stat`, in 1/100 s; 0 when it
/// cannot be read).
fn cpu_ms(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = |n: usize| rest.split_whitespace().nth(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime: fields 14 and 15 of the line, 11 and 12 (from 0) after the name.
    (field(11) + field(12)) * 10
}

/// One streamed answer as the client saw it.
struct Sample {
    ttft: Duration,
    tokens: usize,
    /// Between the first and the last token.
    span: Duration,
}

/// Whether one SSE event carries a token: `data: {…"content":"<at least one character>"…}`.
fn has_content(event: &[u8]) -> bool {
    const KEY: &[u8] = b"\"content\":\"";
    event
        .windows(KEY.len())
        .position(|w| w == KEY)
        .is_some_and(|at| event.get(at + KEY.len()).is_some_and(|b| *b != b'"'))
}

struct Client {
    http: reqwest::Client,
    options: Arc<Options>,
    body: bytes::Bytes,
}

impl Client {
    /// Sends one request and reads its stream; `on_first` runs when the first token arrives.
    async fn stream(&self, on_first: impl FnOnce()) -> Result<Sample, String> {
        let started = Instant::now();
        let mut request = self
            .http
            .post(&self.options.endpoint)
            .header("content-type", "application/json")
            .body(self.body.clone());
        if let Some(token) = &self.options.token {
            request = request.bearer_auth(token);
        }
        let mut response = request.send().await.map_err(|e| format!("send: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            return Err(format!("HTTP {status}: {text}"));
        }
        let mut on_first = Some(on_first);
        let (mut first, mut last) = (None, None);
        let mut tokens = 0;
        let mut done = false;
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("read: {e}"))? {
            let now = Instant::now();
            buffer.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(end) = buffer[start..].windows(2).position(|w| w == b"\n\n") {
                let event = &buffer[start..start + end];
                start += end + 2;
                let Some(data) = event.strip_prefix(b"data: ") else { continue };
                if data == b"[DONE]" {
                    done = true;
                } else if has_content(data) {
                    tokens += 1;
                    if first.is_none() {
                        first = Some(now);
                        if let Some(f) = on_first.take() {
                            f();
                        }
                    }
                    last = Some(now);
                }
            }
            buffer.drain(..start);
        }
        let (Some(first), Some(last)) = (first, last) else {
            return Err("no token in the answer".into());
        };
        if !done {
            return Err("the stream ended without data: [DONE]".into());
        }
        if tokens != self.options.max_tokens {
            return Err(format!("{tokens} tokens, expected {}", self.options.max_tokens));
        }
        Ok(Sample { ttft: first - started, tokens, span: last - first })
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let options = Arc::new(options());
    let k = options.concurrency;
    let body = serde_json::to_vec(&json!({
        "model": options.model, "stream": true, "max_tokens": options.max_tokens,
        "messages": [{"role": "user", "content": "Say hello"}],
    }))
    .unwrap_or_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(k)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("HTTP client: {e}");
            std::process::exit(1);
        });
    let client = Arc::new(Client { http, options: options.clone(), body: bytes::Bytes::from(body) });

    if let Err(e) = client.stream(|| {}).await {
        eprintln!("the first request failed: {e}");
        std::process::exit(1);
    }
    let rss_idle = rss_kb(options.pid);

    // The opening round: K streams at once, RSS read when every one has its first token.
    let open = Arc::new(AtomicUsize::new(0));
    let all_open = Arc::new(Notify::new());
    let mut round = Vec::with_capacity(k);
    for _ in 0..k {
        let (client, open, all_open) = (client.clone(), open.clone(), all_open.clone());
        round.push(tokio::spawn(async move {
            client
                .stream(|| {
                    if open.fetch_add(1, Ordering::SeqCst) + 1 == k {
                        all_open.notify_one();
                    }
                })
                .await
        }));
    }
    let pid = options.pid;
    let sampler = tokio::spawn(async move {
        all_open.notified().await;
        rss_kb(pid)
    });
    let mut opening_errors = 0;
    for task in round {
        if !matches!(task.await, Ok(Ok(_))) {
            opening_errors += 1;
        }
    }
    // Streams that all ended before the last one opened leave the sampler waiting: no figure.
    let rss_open = if open.load(Ordering::SeqCst) == k {
        sampler.await.unwrap_or(0)
    } else {
        sampler.abort();
        0
    };

    // The measured phase.
    let peak = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (peak, running) = (peak.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let pid_text = pid.map(|p| p.to_string());
    let pid_cpu = || pid_text.as_deref().map_or(0, cpu_ms);
    let (pid_cpu_start, driver_cpu_start) = (pid_cpu(), cpu_ms("self"));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(k);
    for i in 0..k {
        let client = client.clone();
        let requests = options.requests;
        let delay = options.stagger.mul_f64(i as f64 / k as f64);
        workers.push(tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut samples = Vec::with_capacity(requests);
            let mut errors = Vec::new();
            for _ in 0..requests {
                match client.stream(|| {}).await {
                    Ok(sample) => samples.push(sample),
                    Err(e) => errors.push(e),
                }
            }
            (samples, errors)
        }));
    }
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for worker in workers {
        match worker.await {
            Ok((s, e)) => {
                samples.extend(s);
                errors.extend(e);
            }
            Err(e) => errors.push(format!("worker: {e}")),
        }
    }
    let elapsed = started.elapsed();
    let (pid_cpu_used, driver_cpu_used) =
        (pid_cpu().saturating_sub(pid_cpu_start), cpu_ms("self").saturating_sub(driver_cpu_start));
    running.store(false, Ordering::Relaxed);
    let _ = watcher.await;
    let rss_peak = if pid.is_some() { peak.load(Ordering::Relaxed).max(rss_kb(pid)) } else { 0 };

    let mut ttft: Vec<f64> = samples.iter().map(|s| ms(s.ttft)).collect();
    ttft.sort_by(f64::total_cmp);
    let mut rates: Vec<f64> = samples
        .iter()
        .filter(|s| s.tokens > 1 && !s.span.is_zero())
        .map(|s| (s.tokens - 1) as f64 / s.span.as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    let tokens: usize = samples.iter().map(|s| s.tokens).sum();
    let tokens_per_s = tokens as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (percentile(&ttft, 50.0), percentile(&ttft, 99.0));
    let rate_p50 = percentile(&rates, 50.0);
    for e in errors.iter().take(5) {
        eprintln!("error: {e}");
    }
    println!(
        "{} K={k}: {} requests in {:.2} s, {} errors (+{opening_errors} in the opening round); \
         first token p50 {p50:.3} ms p99 {p99:.3} ms; {tokens_per_s:.0} tokens/s, per stream p50 \
         {rate_p50:.0} tokens/s; RSS idle {rss_idle} kB, {k} open {rss_open} kB, peak {rss_peak} kB; \
         CPU {pid_cpu_used} ms (driver {driver_cpu_used} ms)",
        options.endpoint,
        samples.len() + errors.len(),
        elapsed.as_secs_f64(),
        errors.len(),
    );
    println!(
        "RESULT {} {} {p50:.3} {p99:.3} {tokens_per_s:.1} {rate_p50:.1} {rss_idle} {rss_open} {rss_peak} \
         {pid_cpu_used} {driver_cpu_used}",
        samples.len() + errors.len(),
        errors.len() + opening_errors,
    );
}
