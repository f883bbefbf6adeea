/* ProcessPrng for Wine 8, which has no bcryptprimitives.dll.
 *
 * Rust's standard library calls ProcessPrng (bcryptprimitives.dll) at start-up on Windows;
 * without it every Rust program exits with status 53 under Wine 8. This DLL exports it and
 * forwards to BCryptGenRandom with the system's preferred generator, as Windows' own does.
 * Test tooling only: built by .ci/windows/wine-setup and copied into the test prefix's
 * system32, never shipped with preauth.exe. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
