"""Numba kernels: pure functions over preallocated arrays, no classes.

CPU kernels are ``@njit(cache=True, error_model="numpy")``; every GEMM goes through ``np.dot``
inside ``@njit`` so one BLAS (the one numba links) serves the whole hot path
(mixing numpy's and scipy's OpenBLAS thread pools makes them spin against
each other on small machines).
"""
