//! The HTML report in a real browser: Debian's Chromium, headless, loads the page, dumps its
//! DOM (every chart section holds an SVG, the Pareto table has a row per Pareto trial, the
//! page logged nothing) and takes a screenshot into `results/report-screenshot.png`.
//!
//! Without `/usr/bin/chromium` the tests print a skip line, unless `NAS_REQUIRE_CHROMIUM=1`,
//! which makes them fail.
//!
//! What counts as a page error on Chromium's stderr: with `--enable-logging=stderr --v=0`
//! Chromium writes each console message of a page as
//! `[pid:tid:time:INFO:CONSOLE:line] "message", source: file:///…/report.html (line)`, at INFO
//! whatever the console level (`console.log` and `console.error` look alike), uncaught
//! exceptions included (`"Uncaught ReferenceError: …"`). Everything else it prints there is
//! browser noise that does not concern the page (D-Bus, VA-API, sandbox and Bluetooth
//! warnings, and a complaint of Debian's wrapper script). The report has no scripts, so any
//! console message is an error: [`page_errors`] keeps the lines with `:CONSOLE`, with
//! `Uncaught`, and `ERROR:` lines that name a `file://` URL.
//! `the_console_filter_catches_a_broken_page` checks the filter on a page that does err.

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_secs(60);

/// Chromium, or `None` (after a skip line) when it is missing and not required.
fn chromium() -> Option<&'static Path> {
    let path = Path::new(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("NAS_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
        panic!("NAS_REQUIRE_CHROMIUM=1 but {CHROMIUM} is missing (apt-get install chromium)");
    }
    eprintln!("skipped: {CHROMIUM} is missing (set NAS_REQUIRE_CHROMIUM=1 to fail instead)");
    None
}

/// What a Chromium run printed.
struct Output {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `url` with `extra` arguments and a fresh profile in `work`,
/// killing it after [`TIMEOUT`].
fn run_chromium(chromium: &Path, work: &Path, extra: &[String], url: &str) -> Output {
    let profile = tempfile::tempdir_in(work).expect("a profile directory");
    let (out_path, err_path) = (work.join("stdout.txt"), work.join("stderr.txt"));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("chromium can be waited for") {
            assert!(
                status.success(),
                "chromium exited with {status}: {}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Output {
        stdout: fs::read_to_string(&out_path).expect("stdout readable"),
        stderr: fs::read_to_string(&err_path).expect("stderr readable"),
    }
}

/// The stderr lines that report a problem of the page (see the module docs).
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || (l.contains("ERROR:") && l.contains("file://"))
        })
        .collect()
}

/// The text from `start` (an `id="…"` attribute) to the first `end` after it.
fn element<'a>(dom: &'a str, id: &str, end: &str) -> &'a str {
    let needle = format!("id=\"{id}\"");
    let start = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let rest = &dom[start..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results")
}

#[test]
fn the_report_renders_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let trials = common::trials();
    let report = common::report_of(&trials, Some(&common::space()));
    let work = tempfile::tempdir().expect("a temp dir");
    let page = work.path().join("report.html");
    fs::write(&page, report.to_html()).expect("page written");
    let url = format!("file://{}", page.display());

    let run = run_chromium(chromium, work.path(), &["--dump-dom".to_string()], &url);
    let dom = run.stdout;
    for id in [
        "pareto-latency",
        "pareto-params",
        "history",
        "curves",
        "importance",
    ] {
        let section = element(&dom, id, "</section>");
        assert!(section.contains("<svg"), "#{id} has no <svg>");
        assert!(
            !section.contains("class=\"placeholder\""),
            "#{id} is a placeholder"
        );
    }
    assert!(
        element(&dom, "hypervolume", "</div>").contains("<svg"),
        "#hypervolume has no <svg>"
    );
    let table = element(&dom, "pareto-table", "</section>");
    let body = &table[table.find("<tbody>").expect("a tbody")..];
    assert_eq!(
        body.matches("<tr").count(),
        report.pareto.len(),
        "one row per Pareto trial"
    );
    assert!(report.pareto.len() >= 2);
    let errors = page_errors(&run.stderr);
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    let dir = results_dir();
    fs::create_dir_all(&dir).expect("results/ exists");
    let shot = dir.join("report-screenshot.png");
    let _ = fs::remove_file(&shot);
    let args = [
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,2400".to_string(),
    ];
    let run = run_chromium(chromium, work.path(), &args, &url);
    let size = fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 50_000,
        "screenshot {} is {size} bytes",
        shot.display()
    );
    let errors = page_errors(&run.stderr);
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}

#[test]
fn the_console_filter_catches_a_broken_page() {
    let Some(chromium) = chromium() else { return };
    let work = tempfile::tempdir().expect("a temp dir");
    let page = work.path().join("broken.html");
    fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p>\
         <script>console.error('boom'); undefinedFunction();</script></body></html>",
    )
    .expect("page written");
    let url = format!("file://{}", page.display());
    let run = run_chromium(chromium, work.path(), &["--dump-dom".to_string()], &url);
    let errors = page_errors(&run.stderr);
    assert!(
        errors.iter().any(|l| l.contains("boom")),
        "console.error missed: {}",
        run.stderr
    );
    assert!(
        errors.iter().any(|l| l.contains("Uncaught")),
        "exception missed: {}",
        run.stderr
    );
    assert!(
        !errors.iter().any(|l| l.contains("dbus")),
        "noise flagged: {errors:#?}"
    );
}
