"""Paper network forward through `predict_on_batch`, with and without the
(un)pooling layers as XLA clusters (`set_pooling_jit_compile`), as
`Segmenter` runs it. TensorFlow backend, CPU; interleaved rounds.

    python benchmarks/pooling_jit_speed.py
"""
import time, statistics, numpy as np, keras, keras_deconvnet
from keras_deconvnet.layers import set_pooling_jit_compile
x = np.random.default_rng(0).uniform(0,255,(8,224,224,3)).astype("float32")
models = {}
for jit in (False, True):
    keras.utils.set_random_seed(0)
    m = keras_deconvnet.DeconvNet(width=1.0)
    set_pooling_jit_compile(m, jit)
    m.predict_on_batch(x); m.predict_on_batch(x)
    models[jit] = m
times = {False: [], True: []}
for _ in range(4):
    for jit, m in models.items():
        t = time.perf_counter(); m.predict_on_batch(x); times[jit].append(time.perf_counter() - t)
for jit in times:
    print(f"pooling jit_compile={jit}: median {statistics.median(times[jit]):.2f} s per batch of 8 = {8/statistics.median(times[jit]):.2f} crops/s")
print("speed-up", statistics.median(times[False]) / statistics.median(times[True]))
