//! Swagger UI's assets for `/docs`, taken from the pinned vendored release (the
//! `utoipa-swagger-ui-vendored` crate's zip): only the files the page loads, gzipped, so the binary
//! carries about 0.5 MB of them instead of the whole 11 MB distribution with its source maps.

use std::io::{Read, Write};
use std::path::PathBuf;

/// The files the page loads, with their content types.
const ASSETS: &[(&str, &str)] = &[
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("index.css", "text/css; charset=utf-8"),
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    (
        "swagger-ui-standalone-preset.js",
        "text/javascript; charset=utf-8",
    ),
    ("favicon-32x32.png", "image/png"),
    ("favicon-16x16.png", "image/png"),
];

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let zip = std::io::Cursor::new(utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED);
    let mut zip = zip::ZipArchive::new(zip).expect("the vendored Swagger UI is a zip");
    let mut table = String::from("/// Swagger UI's files: name, content type, gzipped bytes.\n");
    table.push_str("pub static ASSETS: &[(&str, &str, &[u8])] = &[\n");
    for (name, content_type) in ASSETS {
        let path = zip
            .file_names()
            .find(|path| path.ends_with(&format!("/dist/{name}")))
            .unwrap_or_else(|| panic!("{name} is not in the vendored Swagger UI"))
            .to_owned();
        let mut bytes = Vec::new();
        zip.by_name(&path)
            .expect("listed")
            .read_to_end(&mut bytes)
            .expect("unzips");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).expect("gzips");
        let file = out.join(format!("{name}.gz"));
        std::fs::write(&file, gz.finish().expect("gzips")).expect("OUT_DIR is writable");
        table.push_str(&format!(
            "    ({name:?}, {content_type:?}, include_bytes!({:?})),\n",
            file.display().to_string()
        ));
    }
    table.push_str("];\n");
    std::fs::write(out.join("swagger_assets.rs"), table).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=build.rs");
}
