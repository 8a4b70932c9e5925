//! PyTorch import against outputs computed by PyTorch itself: the fixture in
//! `tests/fixtures/torch` was written once by `scripts/make_torch_fixture.py`.

#![cfg(feature = "pytorch")]
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

use burn::prelude::*;
use murgan_models::import::{self, Role};
use murgan_models::{ModelError, ModelKind, Networks, load};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch")
}

fn dcgan() -> PathBuf {
    fixture().join("dcgan")
}

fn alphagan() -> PathBuf {
    fixture().join("alphagan")
}

fn f32s(name: &str) -> Vec<f32> {
    let sub = if name.starts_with("alpha") || name == "x.f32" {
        "alphagan"
    } else {
        "dcgan"
    };
    std::fs::read(fixture().join(sub).join(name))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_dcgan_tutorial_layout_gives_pytorchs_outputs_and_round_trips_as_a_checkpoint() {
    let device = Device::flex();
    let files = import::find_files(ModelKind::AnoGan, &[dcgan()]).unwrap();
    assert!(files[&Role::Generator].ends_with("netG.pth"));
    let imported = import::import(ModelKind::AnoGan, &files, &device).unwrap();
    let Networks::AnoGan {
        generator,
        discriminator,
    } = &imported.networks
    else {
        panic!("not an AnoGAN");
    };
    // Shapes read from the tensors, not from flags.
    let model = &imported.config["model"];
    assert_eq!(imported.image_size, 32);
    assert_eq!(model["latent_dim"], 8);
    assert_eq!(
        (&model["gen_width"], &model["disc_width"]),
        (&4.into(), &4.into())
    );

    let z = Tensor::<1>::from_floats(f32s("z.f32").as_slice(), &device).reshape([4, 8]);
    let check = |g: &murgan_models::nets::Generator, d: &murgan_models::nets::Discriminator| {
        let x = g.forward(z.clone());
        let gx = max_abs_diff(&values(x.clone()), &f32s("g_of_z.f32"));
        let (logit, _) = d.forward(x);
        let dx = max_abs_diff(&values(logit), &f32s("d_of_g_of_z.f32"));
        eprintln!("max |G(z) diff| {gx:e}, max |D(G(z)) diff| {dx:e}");
        assert!(gx < 1e-4, "G(z) differs from PyTorch by {gx}");
        assert!(dx < 1e-4, "D(G(z)) differs from PyTorch by {dx}");
        // The fixture is not trivially constant: a wrong layer would show.
        let spread = f32s("g_of_z.f32")
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert!(spread.1 - spread.0 > 0.5, "{spread:?}");
    };
    check(generator, discriminator);

    let out = tempfile::tempdir().unwrap();
    let dir = imported
        .write_checkpoint(out.path(), "netG.pth + netD.pth")
        .unwrap();
    let loaded = load(out.path(), &device).unwrap();
    assert_eq!(loaded.dir, dir);
    assert_eq!(loaded.meta.phase, "done");
    assert!(loaded.meta.data.root.contains("PyTorch"));
    let Networks::AnoGan {
        generator,
        discriminator,
    } = &loaded.networks
    else {
        panic!("loaded as {:?}", loaded.meta.kind);
    };
    check(generator, discriminator);
}

/// A `.half()` / `.bfloat16()` model's state_dict (written by scripts/make_half_fixture.py
/// from the f32 fixture) imports as f32 networks that compute what PyTorch's f32 model does,
/// to the precision its weights were stored with; the CPU kernels never see a non-f32 operand.
#[test]
fn half_precision_state_dicts_import_as_f32() {
    let device = Device::flex();
    let z = Tensor::<1>::from_floats(f32s("z.f32").as_slice(), &device).reshape([4, 8]);
    for (sub, tolerance) in [("dcgan-f16", 5e-3), ("dcgan-bf16", 5e-2)] {
        let files = import::find_files(ModelKind::AnoGan, &[fixture().join(sub)]).unwrap();
        let imported = import::import(ModelKind::AnoGan, &files, &device).unwrap();
        let Networks::AnoGan {
            generator,
            discriminator,
        } = &imported.networks
        else {
            panic!("not an AnoGAN");
        };
        let x = generator.forward(z.clone());
        assert_eq!(x.dtype(), burn::tensor::DType::F32, "{sub}");
        let gx = max_abs_diff(&values(x.clone()), &f32s("g_of_z.f32"));
        let (logit, _) = discriminator.forward(x);
        let dx = max_abs_diff(&values(logit), &f32s("d_of_g_of_z.f32"));
        eprintln!("{sub}: max |G(z) diff| {gx:e}, max |D(G(z)) diff| {dx:e}");
        assert!(gx < tolerance && dx < tolerance, "{sub}: {gx} {dx}");
        // Not the f32 file by mistake: rounding the weights shows in the outputs.
        assert!(gx > 1e-7, "{sub}: identical to the f32 fixture");
        let out = tempfile::tempdir().unwrap();
        imported.write_checkpoint(out.path(), sub).unwrap();
        assert!(load(out.path(), &device).is_ok(), "{sub}");
    }
}

#[test]
fn murgans_alphagan_mirrored_in_pytorch_gives_pytorchs_outputs() {
    let device = Device::flex();
    let files = import::find_files(ModelKind::AlphaGan, &[alphagan()]).unwrap();
    assert_eq!(files.len(), 4);
    let imported = import::import(ModelKind::AlphaGan, &files, &device).unwrap();
    let out = tempfile::tempdir().unwrap();
    imported
        .write_checkpoint(out.path(), "alpha_*.pth")
        .unwrap();
    let loaded = load(out.path(), &device).unwrap();
    let Networks::AlphaGan {
        encoder,
        generator,
        discriminator,
        code,
    } = loaded.networks
    else {
        panic!("not an alpha-GAN");
    };
    let x = Tensor::<1>::from_floats(f32s("x.f32").as_slice(), &device).reshape([4, 1, 32, 32]);
    let e = encoder.forward(x.clone());
    let pairs = [
        ("E(x)", values(e.clone()), "alpha_e_of_x.f32"),
        (
            "G(E(x))",
            values(generator.forward(e.clone())),
            "alpha_g_of_e.f32",
        ),
        (
            "D(x)",
            values(discriminator.forward(x).0),
            "alpha_d_of_x.f32",
        ),
        ("C(E(x))", values(code.forward(e)), "alpha_c_of_e.f32"),
    ];
    for (what, got, want) in pairs {
        let diff = max_abs_diff(&got, &f32s(want));
        eprintln!("{what}: max |diff| {diff:e}");
        assert!(diff < 1e-4, "{what} differs from PyTorch by {diff}");
    }
}

#[test]
fn wrong_missing_or_corrupt_files_are_named() {
    let device = Device::flex();
    let dir = dcgan();
    // A discriminator offered as the generator.
    let mut files = import::find_files(ModelKind::AnoGan, std::slice::from_ref(&dir)).unwrap();
    files.insert(Role::Generator, dir.join("netD.pth"));
    let err = import::import(ModelKind::AnoGan, &files, &device).unwrap_err();
    assert!(err.to_string().contains("netD.pth"), "{err}");

    // alpha-GAN files with the tutorial's discriminator: a shape/key error naming the file.
    let mut files = import::find_files(ModelKind::AlphaGan, &[alphagan()]).unwrap();
    files.insert(Role::Discriminator, dir.join("netD.pth"));
    let err = import::import(ModelKind::AlphaGan, &files, &device).unwrap_err();
    assert!(err.to_string().contains("netD.pth"), "{err}");

    // Not a PyTorch file at all.
    let tmp = tempfile::tempdir().unwrap();
    let fake_g = tmp.path().join("netG.pth");
    std::fs::write(&fake_g, b"not a zip, not a pickle").unwrap();
    std::fs::copy(dir.join("netD.pth"), tmp.path().join("netD.pth")).unwrap();
    let files = import::find_files(ModelKind::AnoGan, &[tmp.path().to_path_buf()]).unwrap();
    let err = import::import(ModelKind::AnoGan, &files, &device).unwrap_err();
    assert!(matches!(err, ModelError::CorruptCheckpoint { .. }), "{err}");
    assert!(err.to_string().contains("netG.pth"), "{err}");

    // A role missing: the message says which and where it looked.
    std::fs::remove_file(tmp.path().join("netD.pth")).unwrap();
    let err = import::find_files(ModelKind::AnoGan, &[tmp.path().to_path_buf()]).unwrap_err();
    assert!(err.to_string().contains("discriminator (D)"), "{err}");
    // Two generators.
    let err = import::find_files(
        ModelKind::AnoGan,
        &[
            dir.join("netG.pth"),
            alphagan().join("alpha_G.pth"),
            dir.join("netD.pth"),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().contains("two files"), "{err}");
}

#[test]
fn roles_come_from_file_names() {
    let role = |n: &str| Role::of_file(Path::new(n));
    assert_eq!(role("netG.pth"), Some(Role::Generator));
    assert_eq!(role("run3_D.pt"), Some(Role::Discriminator));
    assert_eq!(role("xray_E.pth"), Some(Role::Encoder));
    assert_eq!(role("xray_C.pth"), Some(Role::Code));
    assert_eq!(role("code_discriminator.pth"), Some(Role::Code));
    assert_eq!(role("generator.pth"), Some(Role::Generator));
    assert_eq!(role("netG.png"), None);
    assert_eq!(role("weights.pth"), None);
}

/// The full-size tutorial networks written by `../shared/peer/anogan_torch.py export --out DIR`
/// (64×64, nz = ngf = ndf = 64/100), when `MURGAN_PEER_EXPORT=DIR` points at them; skipped
/// otherwise (the files are 14 MB and made by a large PyTorch install).
#[test]
fn the_peer_scripts_full_size_export_when_given() {
    let Some(dir) = std::env::var_os("MURGAN_PEER_EXPORT").map(PathBuf::from) else {
        eprintln!("MURGAN_PEER_EXPORT not set: skipped");
        return;
    };
    let read = |name: &str| -> Vec<f32> {
        std::fs::read(dir.join(name))
            .unwrap()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let device = Device::flex();
    let files = import::find_files(ModelKind::AnoGan, std::slice::from_ref(&dir)).unwrap();
    let imported = import::import(ModelKind::AnoGan, &files, &device).unwrap();
    assert_eq!(imported.image_size, 64);
    let Networks::AnoGan {
        generator,
        discriminator,
    } = imported.networks
    else {
        panic!("not an AnoGAN");
    };
    let z = Tensor::<1>::from_floats(read("z.f32").as_slice(), &device).reshape([4, 100]);
    let x = generator.forward(z);
    let gx = max_abs_diff(&values(x.clone()), &read("g_of_z.f32"));
    let dx = max_abs_diff(
        &values(discriminator.forward(x).0),
        &read("d_of_g_of_z.f32"),
    );
    eprintln!("peer export: max |G(z) diff| {gx:e}, max |D(G(z)) diff| {dx:e}");
    assert!(gx < 1e-4 && dx < 1e-4, "{gx} {dx}");
}
