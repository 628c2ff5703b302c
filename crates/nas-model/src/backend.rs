//! Picking a burn backend at run time.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::ModelError;

/// The burn backends `nas` can run on. Which ones work depends on the cargo features this
/// build was made with ([`BackendKind::is_compiled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// WebGPU through wgpu (Vulkan, Metal or DX12; WGSL shaders). The default GPU path; also
    /// runs on Mesa's software Vulkan device (lavapipe).
    Wgpu,
    /// wgpu pinned to Vulkan with SPIR-V shaders (cargo feature `vulkan`; real GPUs only).
    Vulkan,
    /// NVIDIA CUDA (cargo feature `cuda`).
    Cuda,
    /// burn's pure-Rust CPU backend with SIMD and rayon (cargo feature `flex`).
    Flex,
    /// CubeCL's LLVM-JIT CPU backend (cargo feature `cpu`).
    Cpu,
}

/// Every backend, in the order `--backend` help lists them.
pub const ALL_BACKENDS: [BackendKind; 5] = [
    BackendKind::Wgpu,
    BackendKind::Vulkan,
    BackendKind::Cuda,
    BackendKind::Flex,
    BackendKind::Cpu,
];

impl BackendKind {
    /// The CPU backend used when no GPU is asked for: `flex`, the faster CPU backend that this
    /// build has (see the README's backend table).
    pub const DEFAULT_CPU: BackendKind = BackendKind::Flex;

    /// The name `--backend` takes.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Wgpu => "wgpu",
            BackendKind::Vulkan => "vulkan",
            BackendKind::Cuda => "cuda",
            BackendKind::Flex => "flex",
            BackendKind::Cpu => "cpu",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Vulkan => cfg!(feature = "vulkan"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
            BackendKind::Flex => cfg!(feature = "flex"),
            BackendKind::Cpu => cfg!(feature = "cpu"),
        }
    }

    /// Whether the backend runs on the host CPU.
    pub fn is_cpu(self) -> bool {
        matches!(self, BackendKind::Flex | BackendKind::Cpu)
    }

    /// The backend's default device, without autodiff. Fails when this build lacks the
    /// backend. A wgpu device whose adapter cannot be opened fails later, on first use.
    pub fn device(self) -> Result<Device, ModelError> {
        if !self.is_compiled() {
            return Err(ModelError::BackendNotCompiled {
                backend: self.name(),
            });
        }
        Ok(self.device_unchecked())
    }

    /// Device `index` of the backend (a multi-GPU box: one worker per GPU): the index-th
    /// discrete GPU for wgpu and Vulkan, CUDA device `index`. The CPU backends have one
    /// device, 0. Fails when this build lacks the backend or the CPU index is not 0; a GPU
    /// index that names no adapter fails on first use.
    pub fn device_at(self, index: usize) -> Result<Device, ModelError> {
        if !self.is_compiled() {
            return Err(ModelError::BackendNotCompiled {
                backend: self.name(),
            });
        }
        if self.is_cpu() {
            return match index {
                0 => Ok(self.device_unchecked()),
                _ => Err(ModelError::Settings(format!(
                    "backend {self} has one device, 0; there is no device {index}"
                ))),
            };
        }
        Ok(self.gpu_unchecked(index))
    }

    #[allow(unreachable_code, unused_variables)]
    fn gpu_unchecked(self, index: usize) -> Device {
        match self {
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index)),
            #[cfg(feature = "vulkan")]
            BackendKind::Vulkan => Device::vulkan(burn::tensor::DeviceKind::DiscreteGpu(index)),
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => Device::cuda(index),
            _ => self.device_unchecked(),
        }
    }

    #[allow(unreachable_code)]
    fn device_unchecked(self) -> Device {
        match self {
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "vulkan")]
            BackendKind::Vulkan => Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => Device::cuda(0),
            #[cfg(feature = "flex")]
            BackendKind::Flex => Device::flex(),
            #[cfg(feature = "cpu")]
            BackendKind::Cpu => Device::cpu(),
            #[allow(unreachable_patterns)]
            _ => unreachable!("device() checks is_compiled first"),
        }
    }
}

/// The backend a search uses when none is named: a real GPU when one is found (CUDA when
/// compiled in, else Vulkan, else wgpu), never a software rasterizer such as lavapipe; else
/// the fastest CPU backend, flex. The text says which and why.
pub fn auto_backend() -> (BackendKind, String) {
    #[cfg(any(feature = "wgpu", feature = "cuda", feature = "cpu"))]
    {
        let gpus = Device::enumerate_physical();
        if let Some(gpu) = gpus.first() {
            let kind = [BackendKind::Cuda, BackendKind::Vulkan, BackendKind::Wgpu]
                .into_iter()
                .find(|k| k.is_compiled());
            if let Some(kind) = kind {
                return (kind, format!("GPU found: {} (backend {kind})", gpu.name));
            }
        }
    }
    (
        BackendKind::DEFAULT_CPU,
        format!(
            "no GPU found (a software Vulkan device such as lavapipe does not count): CPU backend {}",
            BackendKind::DEFAULT_CPU
        ),
    )
}

/// A human-readable name of the hardware behind a device: the adapter name for CubeCL
/// backends (`llvmpipe (LLVM 15.0.6, 256 bits)` on lavapipe), else the host CPU.
pub fn device_name(device: &Device, backend: BackendKind) -> String {
    if backend.is_cpu() {
        return format!("host CPU, {} threads", cpu_threads());
    }
    #[cfg(any(feature = "wgpu", feature = "cuda", feature = "cpu"))]
    if let Some(identity) = device.identity() {
        return identity.name;
    }
    format!("{device:?}")
}

/// Threads the CPU backends compute on: `RAYON_NUM_THREADS` when set, else every core.
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_BACKENDS
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| ModelError::UnknownBackend { name: s.to_owned() })
    }
}
