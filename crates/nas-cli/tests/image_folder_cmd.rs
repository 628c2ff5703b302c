//! A user's own images through the `nas` binary: folders of real Fashion-MNIST PNGs
//! (Debian's `dataset-fashion-mnist`) searched, exported and predicted; inputs of 8×8, 28×28
//! and 64×64 RGB each training a trial with strides that adapt; `nas search` run from a
//! directory with no repository around it; and bad folders and flags named.

use std::path::{Path, PathBuf};
use std::process::Command;

const ONE_NETWORK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/one_network.toml");
const FOUR_HALVINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/four_halvings.toml");

/// Fashion-MNIST's first classes, as folder names.
const CLASSES: [&str; 4] = ["t-shirt", "trouser", "pullover", "dress"];

fn nas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nas"))
}

fn run(mut cmd: Command) -> (bool, String, String) {
    let out = cmd.output().expect("run nas");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_ok(cmd: Command) -> (String, String) {
    let (ok, stdout, stderr) = run(cmd);
    assert!(ok, "nas failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    (stdout, stderr)
}

/// How a real 28×28 grey image is written into a test folder.
#[derive(Clone, Copy)]
enum Look {
    /// As it is.
    Grey28,
    /// Shrunk to 8×8.
    Grey8,
    /// Grown to 64×64 and tinted by its class (RGB).
    Rgb64,
    /// Every third image grown to 40×40 and every fifth tinted: mixed sizes and colours.
    Mixed,
}

/// `root/<class>/<i>.png` for `per_class` real Fashion-MNIST test images of each of
/// [`CLASSES`], written as `look` says.
fn fashion_folder(root: &Path, per_class: usize, look: Look) {
    let splits = nas_data::load_named("fashion-mnist", None).unwrap_or_else(|e| panic!("{e}"));
    let test = &splits.test;
    for (label, class) in CLASSES.iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let of_class = (0..test.len()).filter(|&i| test.label(i) as usize == label);
        for (k, i) in of_class.take(per_class).enumerate() {
            let grey = image::GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap();
            let grow = |side: u32| {
                image::imageops::resize(&grey, side, side, image::imageops::FilterType::Triangle)
            };
            let tint = |g: &image::GrayImage| {
                let shade = [
                    (1.0, 0.4, 0.4),
                    (0.4, 1.0, 0.4),
                    (0.4, 0.4, 1.0),
                    (1.0, 1.0, 0.3),
                ][label];
                image::RgbImage::from_fn(g.width(), g.height(), |x, y| {
                    let v = f64::from(g.get_pixel(x, y)[0]);
                    image::Rgb([
                        (v * shade.0) as u8,
                        (v * shade.1) as u8,
                        (v * shade.2) as u8,
                    ])
                })
            };
            let path = dir.join(format!("{k:03}.png"));
            match look {
                Look::Grey28 => grey.save(&path),
                Look::Grey8 => grow(8).save(&path),
                Look::Rgb64 => tint(&grow(64)).save(&path),
                Look::Mixed if k % 5 == 0 => tint(&grey).save(&path),
                Look::Mixed if k % 3 == 0 => grow(40).save(&path),
                Look::Mixed => grey.save(&path),
            }
            .unwrap();
        }
    }
}

/// `nas search` on the folder `data` with small settings; `extra` adds flags.
fn search(data: &Path, results: &Path, study: &str, space: &str, extra: &[&str]) -> Command {
    let mut cmd = nas();
    cmd.args(["search", "--space", space, "--dataset"])
        .arg(data)
        .arg("--results")
        .arg(results)
        .args(["--study", study, "--max-epochs", "1"])
        .args(["--backend", "flex", "--quiet"])
        .args(extra);
    if !extra.contains(&"--scheduler") {
        cmd.args(["--scheduler", "none"]);
    }
    cmd
}

/// The resolution each trial of `study` trained its rung 0 at.
fn rung0_resolutions(results: &Path, study: &str) -> Vec<u64> {
    use nas_core::study::{SqliteStorage, Storage};
    let mut storage = SqliteStorage::open(&results.join(study).join("study.db")).unwrap();
    let info = storage.find_study(study).unwrap().unwrap();
    storage
        .trials(info.id, None)
        .unwrap()
        .iter()
        .filter_map(|t| t.attrs.get("rung0")?.get("resolution")?.as_u64())
        .collect()
}

/// `(train, test)` from `… {prefix} N train / M test …` in `text`.
fn split_counts(text: &str, prefix: &str) -> (u64, u64) {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no `{prefix}` in {text}"));
    let words: Vec<&str> = text[start + prefix.len()..].split_whitespace().collect();
    match words[..] {
        [train, "train", "/", test, "test", ..] => (train.parse().unwrap(), test.parse().unwrap()),
        _ => panic!("no split after `{prefix}` in {text}"),
    }
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn an_image_folder_is_searched_exported_and_predicted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("clothes");
    fashion_folder(&data, 60, Look::Grey28);
    let results = tmp.path().join("results");
    let (stdout, stderr) = run_ok(search(
        &data,
        &results,
        "clothes",
        ONE_NETWORK,
        &["--trials", "2"],
    ));
    assert!(stdout.contains("best validation accuracy"), "{stdout}");
    assert!(stderr.contains("28×28 grey"), "{stderr}");
    let test_images = split_counts(&stderr, "pool of 240 images split").1;
    assert!((24..=72).contains(&test_images), "about a fifth: {stderr}");
    let csv = std::fs::read_to_string(results.join("clothes/trials.csv")).unwrap();
    assert_eq!(csv.matches("COMPLETE").count(), 2, "{csv}");
    // The study keeps the folder as an absolute path, the image size it chose and the test
    // share it used.
    let config = std::fs::read_to_string(results.join("clothes/config.toml")).unwrap();
    assert!(
        config.contains(&format!("dataset = \"{}\"", data.display()))
            && config.contains("image_size = 28")
            && config.contains("test_fraction = 0.2"),
        "{config}"
    );

    let mut export = nas();
    export
        .args(["export", "clothes", "--results"])
        .arg(&results)
        .args(["--epochs", "15", "--name", "best", "--backend", "flex"]);
    let (stdout, _) = run_ok(export);
    assert!(stdout.contains("test accuracy"), "{stdout}");
    let model = results.join("clothes/export/best");
    let metrics = json(&model.join("metrics.json"));
    assert_eq!(
        metrics["test_images"], test_images,
        "the pool's own test split"
    );
    let arch = json(&model.join("arch.json"));
    assert_eq!(
        arch["preprocessing"]["class_names"],
        serde_json::json!(["dress", "pullover", "t-shirt", "trouser"])
    );

    // A folder stands for every image under it.
    let mut predict = nas();
    predict
        .args(["predict", "--model"])
        .arg(&model)
        .arg(data.join("trouser"))
        .args(["--json"]);
    let (stdout, _) = run_ok(predict);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 60);
    // Trousers are the easiest class: most of them are recognised after 15 short epochs.
    let trousers = lines.iter().filter(|l| l["label"] == "trouser").count();
    assert!(trousers >= 30, "{trousers} of 60 trousers recognised");

    // A class added to the folder after the search: the network has 4 outputs, the folder
    // now 5 classes; the export says so instead of training a mismatched network.
    let extra = data.join("zz-sandal");
    std::fs::create_dir_all(&extra).unwrap();
    for k in 0..2 {
        std::fs::copy(data.join("dress/000.png"), extra.join(format!("{k}.png"))).unwrap();
    }
    let mut again = nas();
    again
        .args(["export", "clothes", "--results"])
        .arg(&results)
        .args(["--epochs", "1", "--name", "again", "--backend", "flex"]);
    let (ok, _, stderr) = run(again);
    assert!(!ok, "an export of a changed folder must fail");
    assert!(
        stderr.contains("4 classes") && stderr.contains("5 classes") && stderr.contains("changed"),
        "{stderr}"
    );
    assert!(!model.parent().unwrap().join("again").exists());
}

#[test]
fn inputs_of_8_28_and_64_px_rgb_each_train_a_trial() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    // (look, side, channels, strides of stem and the four stages)
    let cases = [
        (Look::Grey8, "grey8", 8, 1, [1, 2, 2, 1, 1]),
        (Look::Grey28, "grey28", 28, 1, [1, 2, 2, 2, 2]),
        (Look::Rgb64, "rgb64", 64, 3, [2, 2, 2, 2, 2]),
    ];
    for (look, name, side, channels, strides) in cases {
        let data = tmp.path().join(name);
        fashion_folder(&data, 20, look);
        let (_, stderr) = run_ok(search(
            &data,
            &results,
            name,
            FOUR_HALVINGS,
            &["--trials", "1"],
        ));
        let kind = if channels == 1 { "grey" } else { "RGB" };
        assert!(
            stderr.contains(&format!("{side}×{side} {kind}")),
            "{name}: {stderr}"
        );
        let pareto = json(&results.join(name).join("pareto.json"));
        let arch = &pareto[0]["arch"];
        assert_eq!(arch["input"]["height"], side, "{name}: {arch}");
        assert_eq!(arch["input"]["channels"], channels, "{name}: {arch}");
        let found: Vec<u64> = std::iter::once(&arch["stem"]["stride"])
            .chain(
                arch["stages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| &s["stride"]),
            )
            .map(|s| s.as_u64().unwrap())
            .collect();
        assert_eq!(found, strides, "{name}: {arch}");
    }
}

#[test]
fn low_rungs_never_go_below_what_the_network_or_8_px_can_take() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let data = tmp.path().join("icons");
    fashion_folder(&data, 20, Look::Grey8);
    let asha = ["--scheduler", "asha", "--rungs", "2", "--trials", "2"];
    // The default ladder starts at half the size but not below 8 px: 8×8 images stay 8×8.
    run_ok(search(&data, &results, "floor", FOUR_HALVINGS, &asha));
    assert_eq!(rung0_resolutions(&results, "floor"), [8, 8]);
    // Asked for 2 px, rung 0 trains at 3: the smallest size whose feature maps the adapted
    // strides (1, 2, 2, 1, 1) fit; 2 px would stride a 1×1 map.
    let low = [&asha[..], &["--min-resolution", "2"]].concat();
    run_ok(search(&data, &results, "low", FOUR_HALVINGS, &low));
    assert_eq!(rung0_resolutions(&results, "low"), [3, 3]);
}

#[test]
fn search_runs_from_a_directory_without_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    fashion_folder(&tmp.path().join("pictures"), 15, Look::Mixed);
    // No --space (the built-in default) and a relative folder: everything is found from
    // where the user stands, and results/ is made there.
    let mut cmd = nas();
    cmd.current_dir(tmp.path())
        .args(["search", "--dataset", "pictures", "--image-size", "12"])
        .args(["--trials", "1", "--scheduler", "none", "--max-epochs", "1"])
        .args(["--backend", "flex", "--quiet", "--study", "here"]);
    let (stdout, stderr) = run_ok(cmd);
    assert!(stdout.contains("1 trials"), "{stdout}");
    assert!(stderr.contains("brought to 12×12 RGB"), "{stderr}");
    assert!(tmp.path().join("results/here/report.html").is_file());

    let mut list = nas();
    list.current_dir(tmp.path()).args(["space", "list"]);
    let (stdout, _) = run_ok(list);
    assert!(
        stdout.contains("lightweight [default]") && stdout.contains("compact"),
        "{stdout}"
    );
    let mut check = nas();
    check
        .current_dir(tmp.path())
        .args(["space", "check", "compact"]);
    let (stdout, _) = run_ok(check);
    assert!(stdout.contains("compact: valid"), "{stdout}");
}

fn fails(mut cmd: Command) -> String {
    let out = cmd.output().expect("run nas");
    assert!(!out.status.success(), "nas succeeded but should not");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_folders_and_flags_are_named_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shapes");
    fashion_folder(&data, 5, Look::Mixed);

    // Mixed sizes and colours are fine: `nas data info` says what they became.
    let mut info = nas();
    info.args(["data", "info", "--dataset"]).arg(&data);
    let (stdout, _) = run_ok(info);
    assert!(
        stdout.contains("28×28 … 40×40 brought to 28×28 RGB"),
        "{stdout}"
    );
    let (train, test) = split_counts(&stdout, "pool of 20 images split");
    assert_eq!(train + test, 20);
    assert!(
        stdout.contains(&format!("train: {train} images, 3×28×28, 4 classes")),
        "{stdout}"
    );

    // A corrupt PNG is named.
    let broken = data.join("dress").join("zz.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n cut short").unwrap();
    let mut info = nas();
    info.args(["data", "info", "--dataset"]).arg(&data);
    let err = fails(info);
    assert!(err.contains(&broken.display().to_string()), "{err}");
    std::fs::remove_file(&broken).unwrap();

    // An empty class is named.
    let empty: PathBuf = data.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let results = tmp.path().join("results");
    let err = fails(search(
        &data,
        &results,
        "bad",
        ONE_NETWORK,
        &["--trials", "1"],
    ));
    assert!(err.contains(&empty.display().to_string()), "{err}");
    std::fs::remove_dir(&empty).unwrap();

    // Flags out of range are refused before anything is written.
    for (flag, value) in [("--image-size", "4"), ("--test-fraction", "1.5")] {
        let err = fails(search(&data, &results, "bad", ONE_NETWORK, &[flag, value]));
        assert!(err.contains(&format!("{flag} {value}")), "{err}");
    }
    let err = fails(search(
        &data,
        &results,
        "bad",
        ONE_NETWORK,
        &["--data-dir", "/x"],
    ));
    assert!(
        err.contains("--data-dir /x: no such data directory"),
        "{err}"
    );
    let mut named = nas();
    named.args([
        "data",
        "info",
        "--dataset",
        "fashion-mnist",
        "--image-size",
        "32",
    ]);
    let err = fails(named);
    assert!(
        err.contains("image size") && err.contains("fashion-mnist"),
        "{err}"
    );
    assert!(
        !results.join("bad").exists(),
        "nothing written for a refused search"
    );
}
