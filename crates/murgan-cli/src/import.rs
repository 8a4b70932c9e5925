//! `murgan import-torch`: PyTorch `state_dict` files → a murgan checkpoint.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use murgan_core::models::ModelKind;
use murgan_core::models::import;

#[derive(Args)]
pub struct ImportArgs {
    /// Which model the files hold: anogan (the PyTorch DCGAN tutorial's netG/netD) or alphagan
    /// (murgan's networks mirrored in PyTorch: *_E, *_G, *_D, *_C).
    #[arg(long)]
    model: ModelKind,
    /// The .pth/.pt files, or folders holding them (roles come from the names: netG.pth,
    /// run_D.pth, ...).
    #[arg(long = "from", required = true, num_args = 1..)]
    from: Vec<PathBuf>,
    /// Output folder: the checkpoint goes to OUT/checkpoints/iter-NNNNNN, and OUT can be given
    /// to `murgan score|evaluate|calibrate|serve` as a model.
    #[arg(long)]
    out: PathBuf,
    /// Device the weights are loaded on (cpu, wgpu, cuda; default: the first compiled).
    #[arg(long)]
    device: Option<String>,
}

pub fn run(a: ImportArgs) -> Result<()> {
    let device = murgan_core::device(a.device.as_deref())?;
    let files = import::find_files(a.model, &a.from)?;
    let imported = import::import(a.model, &files, &device)?;
    let source = files
        .values()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let dir = imported
        .write_checkpoint(&a.out, &source)
        .with_context(|| format!("writing the checkpoint under {}", a.out.display()))?;
    for (role, path) in &files {
        eprintln!("{role:?}: {}", path.display());
    }
    println!(
        "imported the {} model ({}×{} images) into {}",
        a.model.name(),
        imported.image_size,
        imported.image_size,
        dir.display()
    );
    Ok(())
}
