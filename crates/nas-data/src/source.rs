//! What a `--dataset` value names — a dataset by name or an image folder — and loading it
//! into training and test splits.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::folder_dataset::{
    load_folder_dataset, FolderLayout, FolderSplitOptions, DEFAULT_TEST_FRACTION,
};
use crate::{DataError, NamedDataset, Splits};

/// A dataset by name or a folder of images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A dataset known by name ([`NamedDataset`]), read from a data directory.
    Named(NamedDataset),
    /// An image folder (see [`crate::load_folder_dataset`]).
    Folder(PathBuf),
}

/// How a [`DataSource`] is loaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceOptions {
    /// Where a named dataset's files are (default: its usual place); not for folders.
    pub data_dir: Option<PathBuf>,
    /// Side of a folder's square images (default: chosen from the images); not for named
    /// datasets, whose images keep their size.
    pub image_size: Option<u32>,
    /// Share of a pooled folder held out as the test split (default
    /// [`DEFAULT_TEST_FRACTION`]); not for named datasets or `train/` + `test/` folders.
    pub test_fraction: Option<f64>,
}

/// A loaded dataset and one line saying what was read.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedData {
    /// The training and test splits.
    pub splits: Splits,
    /// What was read (`fashion-mnist`, or the folder's layout, sizes and split).
    pub description: String,
    /// A folder's image side, as chosen or given (`None` for a named dataset): record it
    /// with the study, so that a resumed study or an export reads the folder the same way
    /// even after images were added.
    pub image_size: Option<u32>,
    /// A pooled folder's test share, as used (`None` otherwise); record it likewise.
    pub test_fraction: Option<f64>,
}

impl DataSource {
    /// A dataset name (`fashion-mnist`, …, any case) or, failing that, a folder: an
    /// existing one, or any path with a `/` in it (whose absence [`DataSource::load`] then
    /// names). A folder that shadows a name is reached as `./NAME`.
    pub fn parse(text: &str) -> Result<DataSource, DataError> {
        if let Ok(named) = text.parse::<NamedDataset>() {
            return Ok(DataSource::Named(named));
        }
        let path = Path::new(text);
        if path.is_dir() || text.contains(std::path::MAIN_SEPARATOR) {
            return Ok(DataSource::Folder(path.to_path_buf()));
        }
        Err(DataError::UnknownDataset {
            name: text.to_string(),
            known: NamedDataset::ALL.map(NamedDataset::name).join(", "),
        })
    }

    /// Loads the training and test splits. An option that does not apply to this kind of
    /// source is an error naming it, rather than silently ignored.
    pub fn load(&self, options: &SourceOptions) -> Result<LoadedData, DataError> {
        match self {
            DataSource::Named(named) => {
                if let Some(size) = options.image_size {
                    return Err(DataError::invalid(
                        "image size",
                        format!(
                            "{size}: only image folders are resized; {named} keeps its own size"
                        ),
                    ));
                }
                if let Some(f) = options.test_fraction {
                    return Err(DataError::invalid(
                        "test fraction",
                        format!("{f}: {named} has its own test split"),
                    ));
                }
                Ok(LoadedData {
                    splits: named.load(options.data_dir.as_deref())?,
                    description: named.name().to_string(),
                    image_size: None,
                    test_fraction: None,
                })
            }
            DataSource::Folder(root) => {
                if let Some(dir) = &options.data_dir {
                    return Err(DataError::invalid(
                        "data directory",
                        format!(
                            "{}: a data directory is for named datasets; the folder {} is the \
                             dataset",
                            dir.display(),
                            root.display()
                        ),
                    ));
                }
                if let (Some(f), FolderLayout::TrainTest) =
                    (options.test_fraction, FolderLayout::of(root)?)
                {
                    return Err(DataError::invalid(
                        "test fraction",
                        format!("{f}: {} has its own test/ folder", root.display()),
                    ));
                }
                let test_fraction = options.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION);
                let folder = load_folder_dataset(
                    root,
                    &FolderSplitOptions {
                        image_size: options.image_size,
                        test_fraction,
                    },
                )?;
                Ok(LoadedData {
                    description: format!("{}: {}", root.display(), folder.describe()),
                    image_size: Some(folder.image_size),
                    test_fraction: (folder.layout == FolderLayout::Pool).then_some(test_fraction),
                    splits: folder.splits,
                })
            }
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Named(named) => write!(f, "{named}"),
            DataSource::Folder(root) => write!(f, "{}", root.display()),
        }
    }
}
