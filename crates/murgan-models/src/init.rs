//! Seeded initialisation, independent of Burn's global random state (which concurrent runs
//! would share): DCGAN's scheme, weights ~ N(0, 0.02), BatchNorm γ ~ N(1, 0.02), biases and
//! β = 0, drawn from a ChaCha generator in the module's fixed parameter order.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

struct SeededInit {
    path: Vec<String>,
    rng: ChaCha8Rng,
}

impl ModuleMapper for SeededInit {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (mean, std) = match self.path.last().map(String::as_str) {
            Some("weight") => (0.0, 0.02),
            Some("gamma") => (1.0, 0.02),
            Some("beta" | "bias") => (0.0, 0.0),
            _ => return param,
        };
        let rng = &mut self.rng;
        param.map(|t| {
            let shape = t.shape();
            let device = t.device();
            // Parameters are trainable wherever autodiff is on (a lazily initialised parameter
            // may not say so yet).
            let grad = t.is_require_grad() || device.is_autodiff();
            let values: Vec<f32> = (0..shape.num_elements())
                .map(|_| {
                    let z: f32 = StandardNormal.sample(rng);
                    mean + std * z
                })
                .collect();
            Tensor::from_data(TensorData::new(values, shape), &device).set_require_grad(grad)
        })
    }
}

/// Re-initialises every weight, bias and BatchNorm parameter of `module` from `seed`.
pub fn seeded<M: Module>(module: M, seed: u64) -> M {
    module.map(&mut SeededInit {
        path: Vec::new(),
        rng: ChaCha8Rng::seed_from_u64(seed),
    })
}
