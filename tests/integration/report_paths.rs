//! Where reports go: devices, FIFOs and `/dev/fd/N` are written through in place, links are
//! followed and kept, modes are kept, a report that could not be written whole is exit 7, and
//! a signal while writing leaves no temporary file. Device nodes and links are made in a
//! temporary directory, never in the real `/dev`.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Run, candidate_check, evalgate, example_check, finish};

fn example_args() -> Vec<&'static str> {
    example_check("detection", &["--today", "2026-11-26"])
}

fn check(extra: &[&str]) -> Run {
    finish(evalgate().args(example_args()).args(extra))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A character device like `/dev/null` (major 1, minor 3), made in `dir`; `None` when this
/// process may not make one (not root).
fn null_device(dir: &Path) -> Option<std::path::PathBuf> {
    let path = dir.join("null");
    let ok = Command::new("mknod")
        .arg(&path)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    Some(path)
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".evalgate"))
        .collect()
}

#[test]
fn a_device_is_written_through_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let Some(null) = null_device(dir.path()) else {
        assert!(!is_root(), "root can make a device node");
        return;
    };
    let r = check(&["--json", null.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let meta = std::fs::symlink_metadata(&null).unwrap();
    assert!(meta.file_type().is_char_device(), "the device was replaced");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_device_in_a_directory_the_user_cannot_write_works_for_non_root() {
    // `--json /dev/null` as a CI user: the directory is not writable, the device is.
    if !is_root() || Command::new("setpriv").arg("--help").output().is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(null) = null_device(dir.path()) else {
        return;
    };
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_evalgate"))
        .args(example_args())
        .args(["--json", null.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS");
    let r = finish(&mut c);
    if r.stderr.contains("Permission denied") && r.stderr.contains("policy") {
        // The checkout is not readable by nobody here; nothing to learn.
        return;
    }
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn a_fifo_and_process_substitution_are_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let r = check(&["--json", fifo.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(json["verdict"], "fail");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // `--json >(cat > out)`: a /dev/fd/N path.
    let out = dir.path().join("out.json");
    let script = format!(
        "{} {} --json >(cat > '{}'); code=$?; wait; exit $code",
        env!("CARGO_BIN_EXE_evalgate"),
        example_args().join(" "),
        out.display()
    );
    let r = finish(
        Command::new("bash")
            .args(["-c", &script])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1"),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The substituted process may still be writing when bash returns; give it a moment.
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.ends_with("}\n") || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["verdict"], "fail");
}

#[test]
fn a_link_is_followed_and_kept_and_modes_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.md");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("report.md");
    std::os::unix::fs::symlink("real.md", &link).unwrap();
    let existing = dir.path().join("r.json");
    std::fs::write(&existing, "old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = check(&[
        "--markdown",
        link.to_str().unwrap(),
        "--json",
        existing.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .starts_with("## ❌ evalgate: failed")
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&target), 0o640);
    assert_eq!(mode(&existing), 0o600);
    assert!(
        std::fs::read_to_string(&existing)
            .unwrap()
            .contains("\"verdict\"")
    );
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn two_flags_for_one_destination_are_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t.json");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    // What `/dev/stdout` is, made here: the real one must never be a report path in a test,
    // since a build that replaces links would replace it.
    let stdout = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &stdout).unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "--json".into(),
            "-".into(),
            "--markdown".into(),
            stdout.display().to_string(),
        ],
        vec![
            "--json".into(),
            target.display().to_string(),
            "--markdown".into(),
            link.display().to_string(),
        ],
    ];
    for extra in cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let r = check(&extra);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("two reports would both be written"),
            "{}",
            r.stderr
        );
    }
    // Once the target exists, the same holds by inode.
    std::fs::write(&target, "{}").unwrap();
    let r = check(&[
        "--junit",
        target.to_str().unwrap(),
        "--json",
        link.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_report_to_a_closed_stdout_is_exit_7() {
    let script = format!(
        "{} {} --json - >&-",
        env!("CARGO_BIN_EXE_evalgate"),
        example_args().join(" ")
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdout is closed"));
}

#[test]
fn a_reader_that_leaves_early_is_exit_7() {
    // `| head -c 10`: the pipe closes long before a report of 5,000 classes is written whole.
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..5000).map(|i| format!("class-{i}")).collect();
    let classes: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 0.9)).collect();
    let eval = crate::write(dir.path(), "e.json", &crate::detection_eval(&classes));
    let policy = crate::write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    classes:\n      '*': {map50: 0.5}\n",
    );
    let script = format!(
        "{} check --policy {policy} --candidate {eval} --json - | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_evalgate"),
    );
    let r = finish(
        Command::new("bash")
            .args(["-c", &script])
            .env("NO_COLOR", "1"),
    );
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.contains("report to stdout"), "{}", r.stderr);
}

#[test]
fn a_signal_while_writing_removes_the_temporary_files() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let dir = tempfile::tempdir().unwrap();
        // A FIFO nobody reads holds the run after the temporaries are written and before
        // they are renamed into place.
        let fifo = dir.path().join("stuck.fifo");
        mkfifo(&fifo);
        let junit = dir.path().join("r.xml");
        let mut child = evalgate()
            .args(example_args())
            .args([
                "--junit",
                junit.to_str().unwrap(),
                "--json",
                fifo.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        // A temporary report, not the probe of the planning step.
        while !leftovers(dir.path())
            .iter()
            .any(|n| !n.starts_with(".evalgate-probe"))
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no temporary file appeared"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: signals a child this test started.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "signal {signal}");
        assert_eq!(
            leftovers(dir.path()),
            Vec::<String>::new(),
            "signal {signal}"
        );
        assert!(
            !junit.exists(),
            "a report half done must not be put in place"
        );
    }
}

#[test]
fn a_fifo_as_an_input_times_out_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("eval.fifo");
    mkfifo(&fifo);
    let start = Instant::now();
    let r = check_with_candidate(fifo.to_str().unwrap(), "policies/detection.yaml");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("raise --timeout"), "{}", r.stderr);
    let policy = dir.path().join("policy.fifo");
    mkfifo(&policy);
    let r = check_with_candidate("examples/evals/candidate.json", policy.to_str().unwrap());
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("raise --timeout"), "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(20));
}

fn check_with_candidate(candidate: &str, policy: &str) -> Run {
    finish(evalgate().args(candidate_check(policy, candidate, &["--timeout", "1s"])))
}

#[test]
fn a_link_to_an_open_descriptor_writes_to_it() {
    // What `/dev/stdout` is: a link to /proc/self/fd/1. Made here, in a temporary directory.
    if !Path::new("/proc/self/fd/1").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let r = check(&["--markdown", link.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("## ❌ evalgate: failed"),
        "{}",
        r.stdout
    );
    // The report has stdout to itself; the summary goes to stderr.
    assert!(!r.stdout.contains("evalgate: FAIL"), "{}", r.stdout);
    assert!(r.stderr.contains("evalgate: FAIL"), "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(leftovers(dir.path()).is_empty());
}
