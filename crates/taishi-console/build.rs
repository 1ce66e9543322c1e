// rust-embed's derive cannot tell cargo to watch a folder, so a rebuilt
// console (new hashed file names) would not reach the binary without this.
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
