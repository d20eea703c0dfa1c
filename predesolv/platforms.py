"""OpenMM platform discovery and selection.

``platform: auto | CUDA | OpenCL | HIP | CPU | Reference``.

``auto`` asks OpenMM for every loadable platform and takes the one with the highest
``Platform.getSpeed()``, except that an OpenCL platform whose device is a CPU
(pocl, "Portable Computing Language") is ranked below the native CPU platform: on a CPU
pocl runs the same kernels about 3x slower than OpenMM's CPU platform.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import openmm

from predesolv.errors import PlatformNotAvailableError

#: Precisions each platform accepts through its ``Precision`` property.
PRECISIONS: dict[str, tuple[str, ...]] = {
    "CUDA": ("single", "mixed", "double"),
    "OpenCL": ("single", "mixed", "double"),
    "HIP": ("single", "mixed", "double"),
    "CPU": ("mixed",),  # fixed: single-precision forces, double accumulation/integration
    "Reference": ("double",),
}
GPU_PLATFORMS = ("CUDA", "OpenCL", "HIP")


@dataclass
class PlatformInfo:
    """What OpenMM reports about one platform."""

    name: str
    speed: float
    precisions: tuple[str, ...]
    properties: tuple[str, ...]
    device: str = ""
    cpu_device: bool = False
    notes: list[str] = field(default_factory=list)


def load_failures() -> list[str]:
    """Plugin load failures OpenMM reported (e.g. ``libcuda.so.1`` missing)."""
    return list(openmm.Platform.getPluginLoadFailures())


@contextlib.contextmanager
def _quiet_stdio() -> Iterator[None]:
    """Silence C-level writes to file descriptors 1 and 2 (pocl/OpenMM print a warning)."""
    try:
        fds = [sys.stdout.fileno(), sys.stderr.fileno()]
    except (AttributeError, OSError, ValueError):  # pytest capture or no real streams
        yield
        return
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        libc.fflush(None)
        for fd, keep in zip(fds, saved, strict=True):
            os.dup2(keep, fd)
            os.close(keep)
        os.close(devnull)


@functools.cache
def _probe_device(name: str) -> tuple[str, bool, str]:
    """Create a 1-particle context to read the device name; returns (device, is_cpu, error)."""
    system = openmm.System()
    system.addParticle(1.0)
    integrator = openmm.VerletIntegrator(0.001)
    try:
        platform = openmm.Platform.getPlatformByName(name)
        with _quiet_stdio():  # pocl prints "unsupported OpenCL implementation" on fd 2
            context = openmm.Context(system, integrator, platform)
    except openmm.OpenMMException as exc:
        return "", False, str(exc).splitlines()[0]
    try:
        props = {p: platform.getPropertyValue(context, p) for p in platform.getPropertyNames()}
    finally:
        del context
    device = props.get("DeviceName", "")
    plat_name = props.get("OpenCLPlatformName", "")
    is_cpu = _is_pocl(plat_name, device)
    if plat_name:
        device = f"{device} [{plat_name}]"
    return device, is_cpu, ""


def available_platforms(probe: bool = True) -> list[PlatformInfo]:
    """Every platform OpenMM could load, fastest first (see module docstring for ranking).

    Parameters
    ----------
    probe : bool
        Create a tiny context on GPU-type platforms to learn the device and whether it
        actually works (a platform that loads but cannot create a context is dropped,
        with the reason kept for :func:`platform_table`).
    """
    infos = []
    for i in range(openmm.Platform.getNumPlatforms()):
        p = openmm.Platform.getPlatform(i)
        name = p.getName()
        info = PlatformInfo(
            name=name,
            speed=float(p.getSpeed()),
            precisions=PRECISIONS.get(name, ("mixed",)),
            properties=tuple(p.getPropertyNames()),
        )
        if probe and name in GPU_PLATFORMS:
            device, is_cpu, err = _probe_device(name)
            if err:
                info.notes.append(f"cannot create a context: {err}")
            info.device, info.cpu_device = device, is_cpu
            if is_cpu:
                info.notes.append("CPU OpenCL device (pocl): ranked below the CPU platform")
        infos.append(info)
    return sorted(infos, key=_rank, reverse=True)


def _rank(info: PlatformInfo) -> float:
    if info.notes and info.notes[0].startswith("cannot create"):
        return -1.0
    if info.cpu_device:
        return min(info.speed, 5.0)  # below CPU (10) but above Reference (1)
    return info.speed


def usable(info: PlatformInfo) -> bool:
    """False when the platform loaded but could not create a context."""
    return not any(n.startswith("cannot create") for n in info.notes)


def select_platform(
    name: str = "auto",
    precision: str | None = None,
    device_index: str | None = None,
    cpu_threads: int | None = None,
) -> tuple[openmm.Platform, dict[str, str]]:
    """Pick a platform and the properties to create a Context with.

    Parameters
    ----------
    name : str
        ``auto`` or an OpenMM platform name.
    precision : {'single', 'mixed', 'double'}, optional
        Set only on platforms that take a ``Precision`` property; a precision the platform
        cannot honour is an error (CPU is always mixed, Reference always double).
    device_index : str, optional
        GPU index (``"0"`` or ``"0,1"``); only for CUDA/OpenCL/HIP.
    cpu_threads : int, optional
        ``Threads`` of the CPU platform.

    Returns
    -------
    platform : openmm.Platform
    properties : dict of str to str

    Raises
    ------
    PlatformNotAvailableError
        The platform is missing or unusable; the message lists what is available and the
        plugin load failures OpenMM reported.
    """
    infos = available_platforms(probe=(name == "auto" or name in GPU_PLATFORMS))
    ok = [i for i in infos if usable(i)]
    if name == "auto":
        chosen = ok[0]
    else:
        matches = [i for i in ok if i.name == name]
        if not matches:
            avail = ", ".join(f"{i.name} (speed {i.speed:g})" for i in ok)
            reasons = [f"{i.name}: {n}" for i in infos if i.name == name for n in i.notes]
            reasons += [f.split("/")[-1] for f in load_failures() if f"/libOpenMM{name}.so:" in f]
            why = f" OpenMM reports: {' | '.join(reasons)}." if reasons else ""
            raise PlatformNotAvailableError(
                f"simulation.platform: {name!r} is not available on this machine.{why} "
                f"Available: {avail}. Use one of those, or 'auto'."
            )
        chosen = matches[0]
    props: dict[str, str] = {}
    if precision is not None:
        if precision not in chosen.precisions:
            raise PlatformNotAvailableError(
                f"simulation.precision: {precision!r} is not supported by the {chosen.name} "
                f"platform (supports {', '.join(chosen.precisions)}); remove precision or "
                f"choose a platform that supports it"
            )
        if "Precision" in chosen.properties:
            props["Precision"] = precision
    elif "Precision" in chosen.properties:
        props["Precision"] = "mixed"
    if device_index is not None:
        if "DeviceIndex" not in chosen.properties:
            raise PlatformNotAvailableError(
                f"simulation.device_index: the {chosen.name} platform has no devices to "
                f"choose from; remove device_index or use CUDA/OpenCL/HIP"
            )
        props["DeviceIndex"] = device_index
    if cpu_threads is not None and "Threads" in chosen.properties:
        props["Threads"] = str(cpu_threads)
    return openmm.Platform.getPlatformByName(chosen.name), props


def _is_pocl(opencl_platform_name: str, device_name: str = "") -> bool:
    """The one test for pocl (OpenCL on the CPU) from OpenCL property values."""
    name = opencl_platform_name.lower()
    return ("portable computing language" in name or "pocl" in name
            or "pthread" in device_name.lower())


def is_pocl(context: openmm.Context) -> bool:
    """True when ``context`` runs on OpenCL with a CPU (pocl) device."""
    platform = context.getPlatform()
    if platform.getName() != "OpenCL":
        return False
    return _is_pocl(platform.getPropertyValue(context, "OpenCLPlatformName"),
                    platform.getPropertyValue(context, "DeviceName"))


def platform_table() -> str:
    """Human-readable table of platforms, devices, precisions and load failures."""
    rows = [f"{'platform':<10} {'speed':>6}  {'precision':<20} {'status':<8} device / notes"]
    for i in available_platforms(probe=True):
        status = "ok" if usable(i) else "BROKEN"
        extra = "; ".join([i.device] * bool(i.device) + i.notes)
        rows.append(
            f"{i.name:<10} {i.speed:>6g}  {','.join(i.precisions):<20} {status:<8} {extra}"
        )
    ranked = [i for i in available_platforms(probe=True) if usable(i)]
    rows.append(f"auto -> {ranked[0].name}")
    fails = load_failures()
    if fails:
        rows.append("plugin load failures:")
        rows.extend(f"  {f}" for f in fails)
    return "\n".join(rows)
