//! `kestrel-mkimage OUT --layer HOSTDIR[=IMAGEPATH] ... [--format docker|oci|oci-dir] [--compress gzip|zstd|none]`
//!
//! Builds an image from host directories, one layer per `--layer`, for benchmarks and manual tests.

use kestrel_testkit::{layer_from_dir, Compression, Image, OciLayout};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: kestrel-mkimage OUT --layer HOSTDIR[=IMAGEPATH]... [--format docker|oci|oci-dir] [--compress gzip|zstd|none] [--tag TAG]";
    let Some(out) = args.first().cloned() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (mut layers, mut format, mut comp, mut tag) = (Vec::new(), "docker".to_string(), Compression::Gzip, "kestrel/bench:latest".to_string());
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--layer" => {
                let (host, inside) = v.split_once('=').map(|(h, p)| (h.to_string(), p.to_string())).unwrap_or((v.clone(), v.clone()));
                let tar = layer_from_dir(&PathBuf::from(&host), &inside).unwrap_or_else(|e| {
                    eprintln!("{host}: {e}");
                    std::process::exit(2)
                });
                layers.push(tar);
            }
            "--format" => format = v,
            "--compress" => {
                comp = match v.as_str() {
                    "gzip" => Compression::Gzip,
                    "zstd" => Compression::Zstd,
                    _ => Compression::None,
                }
            }
            "--tag" => tag = v,
            _ => {
                eprintln!("{usage}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let img = Image { layers, ..Default::default() };
    match format.as_str() {
        "docker" => img.write_docker_archive(&PathBuf::from(&out), &[&tag]),
        "oci-dir" => img.write_oci_dir(&PathBuf::from(&out), &tag, comp),
        _ => {
            let mut l = OciLayout::new();
            l.add(&img, &tag, comp);
            l.write_tar(&PathBuf::from(&out));
        }
    }
}
