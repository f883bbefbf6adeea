//! Standalone use of devicekey: seal a secret for this machine, open it again, and see what a
//! wrong label or a passphrase key does.
//!
//! Run with `cargo run -p devicekey --example devicekey`. The host secret goes to a temporary
//! folder here; real programs call `DeviceKey::load_or_create()` (or set DEVICEKEY_SECRET_DIR).

use devicekey::{DeviceKey, Error, Zeroizing};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = tempfile::tempdir()?;
    let key = DeviceKey::load_or_create_in(folder.path())?;
    let names: Vec<String> = key.sources().iter().map(ToString::to_string).collect();
    println!("device key bound to: {}", names.join(", "));

    let connection = "Server=db.example;User Id=etl;Password=hunter2";
    let sealed = key.encrypt(connection, "connection:sales")?;
    println!("sealed:  {sealed}");

    let opened = key.decrypt(&sealed, "connection:sales")?;
    assert_eq!(*opened, connection);
    println!("opened:  {} bytes, identical", opened.len());

    match key.decrypt(&sealed, "connection:hr") {
        Err(e @ Error::TamperedOrWrongLabel) => println!("other label: {e}"),
        other => return Err(format!("expected a label error, got {other:?}").into()),
    }

    // Portable mode: the same envelope format, opened wherever the passphrase is known.
    let portable = DeviceKey::from_passphrase(Zeroizing::new("correct horse battery".into()))?;
    let moved = portable.encrypt(connection, "connection:sales")?;
    assert_eq!(*portable.decrypt(&moved, "connection:sales")?, connection);
    match key.decrypt(&moved, "connection:sales") {
        Err(e @ Error::WrongMode { .. }) => println!("device key on passphrase text: {e}"),
        other => return Err(format!("expected a mode error, got {other:?}").into()),
    }
    Ok(())
}
