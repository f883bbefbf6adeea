//! Owner-only access lists, and the check that nobody else may read a file.

use std::fs::File;
use std::io;
use std::os::windows::io::AsRawHandle as _;
use std::path::Path;

use windows_sys::Win32::Foundation::{CloseHandle, GENERIC_ALL, GENERIC_READ, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetSecurityInfo, SE_FILE_OBJECT, SetSecurityInfo,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, ACL_REVISION, AddAccessAllowedAceEx, CONTAINER_INHERIT_ACE,
    CreateWellKnownSid, DACL_SECURITY_INFORMATION, EqualSid, GetAce, GetLengthSid,
    GetTokenInformation, INHERIT_ONLY_ACE, InitializeAcl, OBJECT_INHERIT_ACE,
    OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SECURITY_MAX_SID_SIZE, TOKEN_QUERY, TOKEN_USER, TokenUser, WELL_KNOWN_SID_TYPE,
    WinBuiltinAdministratorsSid, WinLocalSystemSid, WinWorldSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ALL_ACCESS, FILE_FLAG_BACKUP_SEMANTICS, FILE_READ_DATA, READ_CONTROL, WRITE_DAC,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// The ACE type of an access-allowed entry.
const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;

/// Gives `path` an access list with one entry, full control for the current user, and stops
/// it from inheriting the parent folder's entries: the Windows form of mode 0600 (a file) or
/// 0700 (a folder, whose entry is inherited by what is created in it).
pub fn restrict(path: &Path) -> io::Result<()> {
    let user = current_user()?;
    let sid = user.sid();
    let inherit = if path.is_dir() {
        OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
    } else {
        0
    };
    // SAFETY: `sid` points into `user`, a valid SID that outlives these calls.
    let sid_len = unsafe { GetLengthSid(sid) };
    let acl_len = size_of::<ACL>() + size_of::<ACCESS_ALLOWED_ACE>() + sid_len as usize;
    // u32 words keep the list DWORD-aligned, as InitializeAcl requires.
    let mut acl = vec![0u32; acl_len.div_ceil(4)];
    let acl_len = u32::try_from(acl.len() * 4).map_err(io::Error::other)?;
    let acl_ptr = acl.as_mut_ptr().cast::<ACL>();
    // SAFETY: `acl` is `acl_len` writable, aligned bytes; `sid` is valid.
    let built = unsafe {
        InitializeAcl(acl_ptr, acl_len, ACL_REVISION) != 0
            && AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, inherit, FILE_ALL_ACCESS, sid) != 0
    };
    if !built {
        return Err(io::Error::last_os_error());
    }
    set_dacl(path, acl_ptr)
}

/// Gives `path` an access list of full control for the current user and read access for
/// Everyone (S-1-1-0): what a file copied from a share may carry. The checks that refuse such
/// files are tested with it.
pub fn grant_read_to_everyone(path: &Path) -> io::Result<()> {
    let user = current_user()?;
    let everyone = well_known(WinWorldSid)?;
    let mut acl = vec![0u32; 64];
    let acl_ptr = acl.as_mut_ptr().cast::<ACL>();
    // SAFETY: a 256-byte aligned buffer holds both entries; the SIDs are valid.
    let built = unsafe {
        InitializeAcl(acl_ptr, 256, ACL_REVISION) != 0
            && AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, 0, FILE_ALL_ACCESS, user.sid()) != 0
            && AddAccessAllowedAceEx(
                acl_ptr,
                ACL_REVISION,
                0,
                GENERIC_READ,
                everyone.as_ptr().cast_mut().cast(),
            ) != 0
    };
    if !built {
        return Err(io::Error::last_os_error());
    }
    set_dacl(path, acl_ptr)
}

/// Sets the access list of `path` to exactly `acl`, not inheriting from the parent folder.
fn set_dacl(path: &Path, acl: *const ACL) -> io::Result<()> {
    // Through a handle rather than by name: SetNamedSecurityInfoW may merge in the parent
    // folder's inheritable entries (Wine does), SetSecurityInfo sets exactly this list.
    let handle = open_for_dac(path)?;
    // SAFETY: the handle is open with WRITE_DAC; `acl` is a valid list alive across the call.
    let status = unsafe {
        SetSecurityInfo(
            handle.as_raw_handle() as HANDLE,
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            acl,
            std::ptr::null(),
        )
    };
    status_result(status)
}

/// `path` (a file or a folder) opened only to change its access list.
fn open_for_dac(path: &Path) -> io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .access_mode(WRITE_DAC | READ_CONTROL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)
}

/// Who may read `file` besides its owner, the current user, SYSTEM and the Administrators
/// (these two can read every file anyway): their SIDs, with the name of well-known ones
/// (`S-1-1-0 (Everyone)`). Empty when nobody else may; a file without any access list is
/// readable by everyone.
pub fn readers_besides_owner(file: &File) -> io::Result<Vec<String>> {
    let mut owner: PSID = std::ptr::null_mut();
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: the handle is open (with READ_CONTROL, part of every read access); the out
    // pointers are writable and the descriptor they point into is freed below.
    let status = unsafe {
        GetSecurityInfo(
            file.as_raw_handle() as HANDLE,
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    status_result(status)?;
    let _free = LocalMemory(descriptor);
    if dacl.is_null() {
        return Ok(vec![
            "S-1-1-0 (Everyone: the file has no access list)".into(),
        ]);
    }
    let user = current_user()?;
    let trusted = [
        well_known(WinLocalSystemSid)?,
        well_known(WinBuiltinAdministratorsSid)?,
    ];
    let is_trusted = |sid: PSID| {
        // SAFETY: every SID compared is valid while `descriptor`, `user` and `trusted` live.
        unsafe {
            EqualSid(sid, owner) != 0
                || EqualSid(sid, user.sid()) != 0
                || trusted
                    .iter()
                    .any(|t| EqualSid(sid, t.as_ptr().cast_mut().cast()) != 0)
        }
    };
    let mut readers = Vec::new();
    // SAFETY: `dacl` points into `descriptor`, alive until `_free` drops.
    let count = unsafe { (*dacl).AceCount };
    for index in 0..u32::from(count) {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `index` is below the list's entry count.
        if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
        // SAFETY: every entry starts with an ACE_HEADER; an access-allowed one is an
        // ACCESS_ALLOWED_ACE whose SID starts at `SidStart`.
        let (header, mask) = unsafe { ((*ace).Header, (*ace).Mask) };
        if header.AceType != ACCESS_ALLOWED_ACE_TYPE
            || u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0
            || mask & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL) == 0
        {
            continue;
        }
        // SAFETY: as above.
        let sid: PSID = unsafe { std::ptr::addr_of_mut!((*ace).SidStart) }.cast();
        if !is_trusted(sid) {
            readers.push(describe(sid));
        }
    }
    Ok(readers)
}

/// The token user of this process: its SID lives in the buffer.
struct CurrentUser(Vec<u64>);

impl CurrentUser {
    fn sid(&self) -> PSID {
        // SAFETY: the buffer holds a TOKEN_USER filled by GetTokenInformation.
        unsafe { (*self.0.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }
}

fn current_user() -> io::Result<CurrentUser> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo handle of this process needs no closing; `token` is closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buffer = vec![0u64; 64];
    let mut needed = 0u32;
    let size = u32::try_from(buffer.len() * 8).unwrap_or(u32::MAX);
    // SAFETY: `buffer` is `size` writable bytes, aligned for TOKEN_USER.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            size,
            &mut needed,
        )
    };
    let error = io::Error::last_os_error();
    // SAFETY: `token` was opened above.
    unsafe { CloseHandle(token) };
    if ok == 0 {
        return Err(error);
    }
    Ok(CurrentUser(buffer))
}

/// A well-known SID of this machine's own domain.
fn well_known(kind: WELL_KNOWN_SID_TYPE) -> io::Result<[u8; SECURITY_MAX_SID_SIZE as usize]> {
    let mut sid = [0u8; SECURITY_MAX_SID_SIZE as usize];
    let mut len = SECURITY_MAX_SID_SIZE;
    // SAFETY: `sid` is `len` writable bytes.
    if unsafe {
        CreateWellKnownSid(
            kind,
            std::ptr::null_mut(),
            sid.as_mut_ptr().cast(),
            &mut len,
        )
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(sid)
}

/// `S-1-…`, with the name of the well-known groups that make a file readable by others.
fn describe(sid: PSID) -> String {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is valid; the string is freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
        return "an unknown account".into();
    }
    // SAFETY: the call returned a NUL-terminated wide string.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` characters are readable.
    let string = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    drop(LocalMemory(text.cast()));
    let name = match string.as_str() {
        "S-1-1-0" => " (Everyone)",
        "S-1-5-11" => " (Authenticated Users)",
        "S-1-5-32-545" => " (Users)",
        "S-1-5-32-546" => " (Guests)",
        "S-1-5-7" => " (Anonymous Logon)",
        _ => "",
    };
    format!("{string}{name}")
}

/// Memory the system allocated for the caller, freed with `LocalFree` on drop.
struct LocalMemory(*mut core::ffi::c_void);

impl Drop for LocalMemory {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a call documented to allocate with LocalAlloc.
            unsafe { LocalFree(self.0) };
        }
    }
}

fn status_result(status: u32) -> io::Result<()> {
    match status {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code as i32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restricted_file_has_no_other_readers_and_a_shared_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("Zoë's settings");
        std::fs::create_dir(&folder).unwrap();
        restrict(&folder).unwrap();
        let path = folder.join("settings-ääkkönen.xml");
        std::fs::write(&path, "secret").unwrap();
        restrict(&path).unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(readers_besides_owner(&file).unwrap(), Vec::<String>::new());
        drop(file);

        // Everyone may read: the check names them.
        grant_read_to_everyone(&path).unwrap();
        let readers = readers_besides_owner(&File::open(&path).unwrap()).unwrap();
        assert!(
            readers.iter().any(|r| r.starts_with("S-1-1-0")),
            "{readers:?}"
        );
        restrict(&path).unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(readers_besides_owner(&file).unwrap(), Vec::<String>::new());
    }
}
