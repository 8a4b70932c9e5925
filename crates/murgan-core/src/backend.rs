//! The one place that turns a user's backend choice (`cpu`, `wgpu`, `cuda`) into a Burn
//! [`Device`], knowing which backends this build compiled in.

use std::fmt;
use std::str::FromStr;

pub use burn::tensor::Device;

use crate::Error;

/// A compute backend a user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The CPU (Burn's `flex` backend; cargo feature `flex`, on by default).
    Cpu,
    /// Any GPU through WGPU (cargo feature `wgpu`).
    Wgpu,
    /// An NVIDIA GPU through CUDA (cargo feature `cuda`).
    Cuda,
}

impl Backend {
    /// Every backend murgan knows, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Cpu, Backend::Wgpu, Backend::Cuda];

    /// The backend's name: `cpu`, `wgpu` or `cuda`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// The cargo feature that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Cpu => "flex",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build has the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Cpu => cfg!(feature = "flex"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends this build has.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The device of this backend (the first GPU for `wgpu` and `cuda`), or an error naming
    /// the cargo feature to enable.
    pub fn device(self) -> Result<Device, Error> {
        match self {
            #[cfg(feature = "flex")]
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => Err(Error::BackendNotCompiled {
                backend: other.name(),
                feature: other.feature(),
                compiled: Backend::compiled()
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    /// Parses `cpu` (or `flex`), `wgpu` or `cuda`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(Backend::Cpu),
            "wgpu" | "gpu" => Ok(Backend::Wgpu),
            "cuda" => Ok(Backend::Cuda),
            other => Err(Error::UnknownBackend(other.to_string())),
        }
    }
}

/// The device for a user's choice; `None` picks the first compiled backend of cuda, wgpu,
/// cpu (GPUs first).
pub fn device(choice: Option<&str>) -> Result<Device, Error> {
    match choice {
        Some(name) => name.parse::<Backend>()?.device(),
        None => [Backend::Cuda, Backend::Wgpu, Backend::Cpu]
            .into_iter()
            .find(|b| b.is_compiled())
            .ok_or(Error::NoBackend)?
            .device(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_select() {
        assert_eq!("CPU".parse::<Backend>().unwrap(), Backend::Cpu);
        assert_eq!("flex".parse::<Backend>().unwrap(), Backend::Cpu);
        assert!(matches!(
            "tpu".parse::<Backend>(),
            Err(Error::UnknownBackend(_))
        ));
        assert!(Backend::Cpu.is_compiled());
        assert!(device(Some("cpu")).is_ok());
        if !Backend::Cuda.is_compiled() {
            let err = device(Some("cuda")).unwrap_err().to_string();
            assert!(err.contains("--features cuda"), "{err}");
        }
    }
}
