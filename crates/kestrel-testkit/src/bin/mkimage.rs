//! `kestrel-mkimage OUT --layer HOSTDIR[=IMAGEPATH][,HOSTDIR[=IMAGEPATH]...] ... [--format docker|oci|oci-dir] [--compress gzip|zstd|none]`
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
    let (mut layers, mut format, mut comp, mut tag) =
        (Vec::new(), "docker".to_string(), Compression::Gzip, "kestrel/bench:latest".to_string());
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--layer" => {
                // HOST[=PATH][,HOST[=PATH]...]: one layer holding each host directory at PATH.
                let mut tar = Vec::new();
                for part in v.split(',') {
                    let (host, inside) = part
                        .split_once('=')
                        .map(|(h, p)| (h.to_string(), p.to_string()))
                        .unwrap_or((part.to_string(), part.to_string()));
                    let mut t = layer_from_dir(&PathBuf::from(&host), &inside).unwrap_or_else(|e| {
                        eprintln!("{host}: {e}");
                        std::process::exit(2)
                    });
                    // Concatenate: drop the end-of-archive blocks of all but the last part.
                    if !tar.is_empty() {
                        tar.truncate(tar.len() - 1024);
                    }
                    tar.append(&mut t);
                }
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
