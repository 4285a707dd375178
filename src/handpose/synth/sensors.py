"""Depth sensor models per camera preset: which effects a sensor has, and how strong they are.

Each preset's nominal values come from the sensor's published characterisation (see docs/synth.md,
"Depth sensors"); every frame scales the strengths by a random factor around them, so a model trained on
the synthetic frames sees a range of sensors of the kind rather than one exact unit.

- ``kinect_v1`` (structured light; NYU): PrimeSense/Kinect v1, projector 75 mm beside the IR camera.
- ``ds325`` (time of flight; ICVL, MSRA): the Creative Interactive Gesture Camera (SoftKinetic DS325).
- ``sr300`` (coded light; HANDS 2017/2019, BigHand2.2M): Intel RealSense SR300.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from handpose.synth import depth_noise as k

STRUCTURED_LIGHT, TIME_OF_FLIGHT, CODED_LIGHT = 0, 1, 2


@dataclass(frozen=True)
class SensorModel:
    """Strengths of the depth sensor effects (see :mod:`handpose.synth.depth_noise`).

    Attributes:
        name: Preset name.
        kind: ``STRUCTURED_LIGHT``, ``TIME_OF_FLIGHT`` or ``CODED_LIGHT``.
        sigma_base: Axial noise at ``sigma_z0``, mm.
        sigma_quad: Growth of the axial noise, ``sigma = base + quad (z - z0)^2`` (mm, z in mm).
        sigma_z0: Depth of the smallest noise, mm.
        quant_quad: Disparity quantisation step ``quant_quad z^2`` mm (structured light; 0 = off).
        edge_jump: Depth jump (mm) that marks a silhouette.
        edge_drop: Probability that a pixel on the far side of a jump reads as missing.
        speckle: Probability that any pixel reads as missing.
        baseline_mm: Projector-camera baseline (structured light; 0 = no projector shadow).
        thin_px: Narrowest foreground run (pixels) that survives (structured light; 0 = all survive).
        flying: Probability that a pixel beside a jump mixes both sides' depths (time of flight).
        multipath_mm: Largest extra distance read by a surface just behind a nearer one.
        multipath_range_mm: How far behind a nearer surface multipath still acts.
        grazing_tan: Surfaces steeper than this (tangent of the viewing angle) may read as missing.
        grazing_drop: Probability of missing a steep pixel.
        near_mm: Nearest reading; closer surfaces are missing.
        far_mm: Farthest reading; farther surfaces are missing.
    """

    name: str
    kind: int
    sigma_base: float
    sigma_quad: float
    sigma_z0: float = 0.0
    quant_quad: float = 0.0
    edge_jump: float = 12.0
    edge_drop: float = 0.5
    speckle: float = 0.002
    baseline_mm: float = 0.0
    thin_px: float = 0.0
    flying: float = 0.0
    multipath_mm: float = 0.0
    multipath_range_mm: float = 80.0
    grazing_tan: float = 1e9
    grazing_drop: float = 0.0
    near_mm: float = 0.0
    far_mm: float = 65535.0

    def sample(self, rng: np.random.Generator) -> SensorModel:
        """This sensor with every strength scaled by a random factor (0.5-1.5 for noise, 0.6-1.4 else)."""
        r = rng.random(9)  # one draw for every strength

        def around(x: float, t: float, spread: float = 0.4) -> float:
            return x * (1.0 - spread + 2.0 * spread * float(t))

        return replace(
            self,
            sigma_base=around(self.sigma_base, r[0], 0.5),
            sigma_quad=around(self.sigma_quad, r[1], 0.5),
            edge_jump=around(self.edge_jump, r[2]),
            edge_drop=min(1.0, around(self.edge_drop, r[3])),
            speckle=around(self.speckle, r[4], 1.0),
            thin_px=around(self.thin_px, r[5]),
            flying=min(1.0, around(self.flying, r[6])),
            multipath_mm=around(self.multipath_mm, r[7], 1.0),
            grazing_drop=min(1.0, around(self.grazing_drop, r[8])),
        )

    def vector(
        self, focal: float, side: float = 1.0, region: tuple[int, int, int, int] = (0, 65535, 0, 65535)
    ) -> np.ndarray:
        """Parameter vector of :func:`handpose.synth.depth_noise.sensor_depth` for a camera with focal
        length ``focal`` (pixels), the projector on ``side`` (+1: +x) of the camera, and thin structures
        searched in the pixel ``region`` (rows v0-v1, columns u0-u1; the whole image by default)."""
        p = np.zeros(k.NUM_PARAMS)
        p[k.P_KIND] = STRUCTURED_LIGHT if self.kind == STRUCTURED_LIGHT else TIME_OF_FLIGHT
        p[k.P_SIGMA_BASE], p[k.P_SIGMA_QUAD], p[k.P_SIGMA_Z0] = self.sigma_base, self.sigma_quad, self.sigma_z0
        p[k.P_QUANT] = self.quant_quad
        p[k.P_EDGE_JUMP], p[k.P_EDGE_DROP], p[k.P_SPECKLE] = self.edge_jump, self.edge_drop, self.speckle
        p[k.P_SHADOW_FB], p[k.P_SHADOW_SIDE] = focal * self.baseline_mm, side
        p[k.P_THIN_PX] = self.thin_px
        p[k.P_FLYING], p[k.P_MULTIPATH], p[k.P_MULTIPATH_RANGE] = (
            self.flying,
            self.multipath_mm,
            self.multipath_range_mm,
        )
        p[k.P_GRAZING_TAN], p[k.P_GRAZING_DROP] = self.grazing_tan, self.grazing_drop
        p[k.P_NEAR], p[k.P_FAR], p[k.P_FOCAL] = self.near_mm, self.far_mm, focal
        p[k.P_REGION_V0], p[k.P_REGION_V1], p[k.P_REGION_U0], p[k.P_REGION_U1] = region
        return p


# Kinect v1: axial noise 1.2 mm + 1.9e-6 (z - 400)^2 mm (Nguyen, Izadi & Lovell 2012); disparity in
# 1/8-pixel steps with f ~ 580 px and a 75 mm baseline gives steps of z^2 / (8 * 580 * 75) = 2.87e-6 z^2
# mm (Khoshelham & Elberink 2012); a 9x9 matching window loses structures a few pixels wide.
KINECT_V1 = SensorModel(
    "kinect_v1",
    STRUCTURED_LIGHT,
    sigma_base=1.2,
    sigma_quad=1.9e-6,
    sigma_z0=400.0,
    quant_quad=2.87e-6,
    edge_jump=10.0,
    edge_drop=0.5,
    speckle=0.002,
    baseline_mm=75.0,
    thin_px=3.0,
)
# DS325 time of flight: 150-1000 mm working range (vendor datasheet); noise a few mm growing with the
# square of the distance, flying pixels at every depth edge and multipath in concave corners (Foix,
# Alenya & Torras 2011, "Lock-in time-of-flight (ToF) cameras: a survey").
DS325 = SensorModel(
    "ds325",
    TIME_OF_FLIGHT,
    sigma_base=1.0,
    sigma_quad=4.0e-6,
    edge_jump=15.0,
    edge_drop=0.2,
    speckle=0.003,
    flying=0.6,
    multipath_mm=8.0,
    multipath_range_mm=100.0,
    grazing_tan=4.0,
    grazing_drop=0.7,
    near_mm=150.0,
    far_mm=1000.0,
)
# SR300 coded light: 200-1500 mm range (vendor datasheet); sub-millimetre to a few mm of noise at hand
# distances, rising with distance, and mixed returns at edges (Carfagni et al. 2017, "On the
# performance of the Intel SR300 depth camera: metrological and critical characterization").
SR300 = SensorModel(
    "sr300",
    CODED_LIGHT,
    sigma_base=0.6,
    sigma_quad=2.0e-6,
    edge_jump=12.0,
    edge_drop=0.3,
    speckle=0.003,
    flying=0.4,
    multipath_mm=5.0,
    multipath_range_mm=80.0,
    grazing_tan=4.0,
    grazing_drop=0.5,
    near_mm=200.0,
    far_mm=1500.0,
)
SENSORS = {s.name: s for s in (KINECT_V1, DS325, SR300)}
CAMERA_SENSORS = {
    "nyu": KINECT_V1,
    "nyu_eval": KINECT_V1,
    "icvl": DS325,
    "icvl_eval": DS325,
    "msra": DS325,
    "msra_eval": DS325,
    "dexter_depth": DS325,
    "hands2017": SR300,
    "hands2019": SR300,
    "bighand": SR300,
    "synthhands_depth": SR300,
}


def sensor_for_camera(name: str) -> SensorModel:
    """The sensor of a camera preset; other cameras get the structured-light model."""
    return CAMERA_SENSORS.get(name, KINECT_V1)
