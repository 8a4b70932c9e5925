//! Crash safety of training: `murgan train` is killed with SIGKILL at random moments, several
//! times, and resumed. No checkpoint may ever be corrupt or half-written, no more than one
//! checkpoint interval of work may be lost, and the finished run must equal one that was never
//! interrupted.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use murgan_core::Device;
use murgan_core::burn::optim::OptimizerRecord;
use murgan_core::models::checkpoint::{self, read_meta};
use murgan_core::models::load;

const EVERY: usize = 10;
const TOTAL: usize = 300;

fn train_cmd(data: &Path, out: &Path, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_murgan"));
    c.args(["train", "--model", "alphagan", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--image-size", "16", "--width", "4", "--latent", "8"])
        .args(["--batch-size", "8", "--iterations", &TOTAL.to_string()])
        .args(["--checkpoint-every", &EVERY.to_string(), "--device", "cpu"]);
    if resume {
        c.arg("--resume");
    }
    c
}

/// The iteration of a checkpoint folder `iter-NNNNNN`.
fn iteration_of(dir: &Path) -> usize {
    dir.file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("iter-")
        .parse()
        .unwrap()
}

/// Every checkpoint on disk is complete: its model.json reads, its networks load, its
/// optimiser states load. Returns the newest iteration.
fn check_all_checkpoints(out: &Path) -> usize {
    let root = out.join("checkpoints");
    let mut newest = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("iter-") {
            assert!(name.ends_with(".tmp"), "unexpected {name}");
            continue; // a checkpoint being assembled when the kill came: never read
        }
        let meta = read_meta(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(meta.iteration, iteration_of(&dir));
        load::load(&dir, &Device::flex()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for net in meta.networks.keys() {
            let optim = dir.join(format!("optim-{net}.bpk"));
            OptimizerRecord::load(&optim).unwrap_or_else(|e| panic!("{}: {e}", optim.display()));
        }
        newest = newest.max(meta.iteration);
    }
    assert_eq!(
        checkpoint::latest(&root)
            .map(|d| iteration_of(&d))
            .unwrap_or(0),
        newest
    );
    newest
}

fn generator_output(run: &Path) -> Vec<f32> {
    let model = load::load(run, &Device::flex()).unwrap();
    let load::Networks::AlphaGan { generator, .. } = model.networks else {
        panic!("not an alpha-GAN");
    };
    let z = murgan_core::burn::tensor::Tensor::<2>::ones([2, 8], &Device::flex());
    generator
        .forward(z)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

fn synth(root: &Path) -> PathBuf {
    let st = Command::new(env!("CARGO_BIN_EXE_murgan"))
        .args(["synth", "--out"])
        .arg(root)
        .args([
            "--per-category",
            "6",
            "--image-size",
            "32",
            "--categories",
            "HAND",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    root.join("MURA-v1.1")
}

#[test]
fn training_killed_at_random_moments_resumes_without_corruption_or_lost_work() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synth(tmp.path());
    let (run, reference) = (tmp.path().join("run"), tmp.path().join("reference"));

    // Random kill moments, from a printed seed so a failure can be replayed.
    let seed = std::env::var("MURGAN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("kill moments from MURGAN_CRASH_SEED={seed}");
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };

    let mut kills = 0;
    let mut resumed_from = Vec::new();
    for attempt in 0..12 {
        let mut child = train_cmd(&data, &run, attempt > 0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let printed = Arc::new(Mutex::new(Vec::<usize>::new()));
        let reader = {
            let printed = printed.clone();
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(path) = line.strip_prefix("checkpoint ") {
                        printed.lock().unwrap().push(iteration_of(Path::new(path)));
                    }
                }
            })
        };
        // Wait for this attempt's first checkpoint, then a random 0–400 ms more: the kill lands
        // anywhere in a step, a checkpoint write or the loss plot.
        let start = Instant::now();
        while printed.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(60) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(next() % 400));
        if child.try_wait().unwrap().is_some() {
            reader.join().unwrap();
            break; // finished before the kill
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        kills += 1;

        let newest = check_all_checkpoints(&run);
        let announced = printed.lock().unwrap().iter().copied().max().unwrap_or(0);
        // Every checkpoint the run announced is on disk, complete; anything done after it is
        // less than one interval (another checkpoint would have been announced).
        assert!(
            newest >= announced,
            "announced {announced}, newest on disk {newest}"
        );
        resumed_from.push(newest);
        if newest >= TOTAL {
            break;
        }
    }
    assert!(kills >= 3, "only {kills} kills landed");
    eprintln!("{kills} kills; resumed from iterations {resumed_from:?}");

    // Finish, and compare with a run never interrupted.
    let ok = |c: &mut Command| {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(&mut train_cmd(&data, &run, true));
    assert_eq!(check_all_checkpoints(&run), TOTAL);
    ok(&mut train_cmd(&data, &reference, false));
    assert_eq!(generator_output(&run), generator_output(&reference));

    // The loss log holds each iteration exactly once, as the uninterrupted run's does.
    let log = |dir: &Path| std::fs::read_to_string(dir.join("losses.csv")).unwrap();
    assert_eq!(log(&run), log(&reference));
    // No half-written checkpoint folder is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
