{
  "targets": [
    {
      "target_name": "vae_lab_blas",
      "sources": ["blas.c"],
      "cflags": ["-O3", "-fno-math-errno", "-march=native", "-fopenmp-simd"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "libraries": ["-lopenblas", "-lmvec", "-lm"]
    }
  ]
}
