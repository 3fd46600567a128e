#!/usr/bin/env python3
"""Write a corpus of malformed Keras models, one file per way a model can be wrong.

    /usr/bin/python3 tools/make_malformed.py OUT_DIR

Each file starts as a valid small model (tools/keras_h5.py) and is then broken
in one way; `snn convert` must refuse every one with exit code 1 and one line
naming the file and the problem (tests/convert/test_malformed.cpp). Files:

  truncated.h5          a valid model cut to its first half
  empty.h5              zero bytes
  not_a_model.h5        HDF5 data set (x, y), no model_config
  bad_json.h5           model_config is JSON cut short
  unsupported_layer.h5  an LSTM layer
  kernel_shape.h5       Dense kernel (6,3) where the config says units 4
  missing_bias.h5       Dense with use_bias but only a kernel stored
  missing_weight.h5     weight_names lists a bias that is not stored
  string_units.h5       "units": "four"
  string_weights.h5     a kernel stored as strings
  nan_weights.h5        a NaN in a kernel
  inf_weights.h5        an Inf in a bias
  terabyte_input.h5     input (400000,400000,64) into a 1x1 Conv2D: ~38 TiB of units
  cycle.h5              functional graph d1 <- d2 <- d1
  dangling_input.h5     functional layer fed by a layer that does not exist
  duplicate_names.h5    two layers named "dense"
  upsampling_bilinear.h5  UpSampling2D with interpolation "bilinear"
  upsampling_zero.h5    UpSampling2D with size (0, 2)
  idp_ranges_float.h5   several IDP profiles: snn_idp_ranges as floats, not whole percents
  idp_ranges_short.h5   several IDP profiles whose last range ends at 90, not 100
  idp_variant_shape.h5  a profile's own kernel of the wrong shape
  idp_variant_missing.h5  snn_idp_ranges without the snn_idp_variants it names

Keras 3 .keras archives (tools/export_keras3.py, from the same small model):

  keras_no_config.keras       no config.json
  keras_no_weights.keras      no model.weights.h5
  keras_truncated.keras       a valid archive cut to its first half
  keras_crc.keras             a byte of the stored model.weights.h5 changed (CRC mismatch)
  keras_not_zip.keras         an HDF5 model file named .keras
  keras_bad_config.keras      config.json is JSON cut short
  keras_weights_not_hdf5.keras  model.weights.h5 is text
  keras_missing_vars.keras    no layers/dense_1/vars for the layer 'out'
  keras_var_shape.keras       the first Dense's kernel (5,4) where its input has 6 features
  keras_var_gap.keras         the first Dense's variables numbered 0 and 2
  keras_npz.keras             weights as model.weights.npz (weights_format="npz")
  keras_bomb.keras            config.json of 300 MiB of spaces, deflated to some 300 KiB
"""

import json
import os
import sys

import zipfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_keras3 as k3  # noqa: E402
import keras_h5 as kh  # noqa: E402


def rng():
    return np.random.default_rng(7)


def mlp(r, functional=False):
    layers = [
        kh.input_layer("input_1", (6,)),
        kh.dense("dense", r.uniform(-0.5, 0.5, (6, 4)), r.uniform(-0.1, 0.1, 4), activation="relu"),
        kh.dense("out", r.uniform(-0.5, 0.5, (4, 3)), r.uniform(-0.1, 0.1, 3), activation="softmax"),
    ]
    if functional:
        layers = [kh.with_inbound(layers[0]), kh.with_inbound(layers[1], "input_1"),
                  kh.with_inbound(layers[2], "dense")]
    return layers


def save(path, layers, functional=False):
    kh.save(path, layers, functional=functional, layout="keras2")


def patch_config(path, change):
    """Rewrite the model_config attribute of `path` through change(dict) -> dict."""
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(change(cfg)).encode("utf8")


def layer_entry(cfg, name):
    return next(l for l in cfg["config"]["layers"] if l["config"]["name"] == name)


def keras3(p):
    save(p("valid.h5"), mlp(rng()))
    config, variables = k3.convert(p("valid.h5"))
    # variables: layers/dense/vars (kernel, bias), layers/dense_1/vars (the layer 'out').
    assert [g for g, _ in variables] == ["layers/dense/vars", "layers/dense_1/vars"]
    k3.write(p("keras_no_config.keras"), config, variables, members=("metadata.json", "model.weights.h5"))
    k3.write(p("keras_no_weights.keras"), config, variables, members=("metadata.json", "config.json"))
    k3.write(p("valid.keras"), config, variables)
    with open(p("valid.keras"), "rb") as f:
        whole = f.read()
    with open(p("keras_truncated.keras"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    # The last member, model.weights.h5, is stored: a byte near the archive's
    # middle is inside its data, which its CRC-32 then no longer matches.
    with zipfile.ZipFile(p("valid.keras")) as z:
        info = z.getinfo("model.weights.h5")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    damaged = bytearray(whole)
    damaged[at] ^= 0xFF
    with open(p("keras_crc.keras"), "wb") as f:
        f.write(bytes(damaged))
    os.remove(p("valid.keras"))
    os.rename(p("valid.h5"), p("keras_not_zip.keras"))
    text = json.dumps(config)
    k3.write(p("keras_bad_config.keras"), text[: len(text) // 2], variables)
    k3.write(p("keras_weights_not_hdf5.keras"), config, variables, weights_image=b"these are not weights\n" * 40)
    k3.write(p("keras_missing_vars.keras"), config, variables[:1])
    kernel, bias = variables[0][1]
    k3.write(p("keras_var_shape.keras"), config, [("layers/dense/vars", [kernel[:5], bias]), variables[1]])
    with h5py.File(p("weights.h5"), "w") as f:
        f.create_group("vars")
        f["layers/dense/vars/0"] = kernel
        f["layers/dense/vars/2"] = bias
        for i, a in enumerate(variables[1][1]):
            f["layers/dense_1/vars/%d" % i] = a
    with open(p("weights.h5"), "rb") as f:
        k3.write(p("keras_var_gap.keras"), config, None, weights_image=f.read())
    os.remove(p("weights.h5"))
    with zipfile.ZipFile(p("keras_npz.keras"), "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.npz", b"PK\x05\x06" + bytes(18))  # an empty zip, as np.savez of nothing
    with zipfile.ZipFile(p("keras_bomb.keras"), "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("config.json", "w") as f:
            for _ in range(300):
                f.write(b" " * (1 << 20))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)  # noqa: E731

    save(p("valid.h5"), mlp(rng()))
    with open(p("valid.h5"), "rb") as f:
        whole = f.read()
    with open(p("truncated.h5"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    open(p("empty.h5"), "wb").close()
    os.remove(p("valid.h5"))

    with h5py.File(p("not_a_model.h5"), "w") as f:
        f["x"] = np.zeros((4, 6), np.float32)
        f["y"] = np.zeros(4, np.int64)

    save(p("bad_json.h5"), mlp(rng()))
    with h5py.File(p("bad_json.h5"), "r+") as f:
        text = f.attrs["model_config"]
        f.attrs["model_config"] = text[: len(text) // 2]

    layers = mlp(rng())
    layers.insert(2, {"class_name": "LSTM", "config": {"name": "lstm", "units": 4}, "weights": []})
    save(p("unsupported_layer.h5"), layers)

    layers = mlp(rng())
    layers[2] = kh.dense("out", np.full((6, 3), 0.1), np.zeros(3), activation="softmax")
    save(p("kernel_shape.h5"), layers)
    patch_config(p("kernel_shape.h5"), lambda c: c)  # the config keeps units 3 after a Dense of 4

    layers = mlp(rng())
    layers[1]["weights"] = layers[1]["weights"][:1]  # kernel only; the config still says use_bias
    save(p("missing_bias.h5"), layers)

    save(p("missing_weight.h5"), mlp(rng()))
    with h5py.File(p("missing_weight.h5"), "r+") as f:
        del f["model_weights/dense/dense/bias:0"]

    save(p("string_units.h5"), mlp(rng()))

    def string_units(c):
        layer_entry(c, "dense")["config"]["units"] = "four"
        return c
    patch_config(p("string_units.h5"), string_units)

    save(p("string_weights.h5"), mlp(rng()))
    with h5py.File(p("string_weights.h5"), "r+") as f:
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense/kernel:0"] = np.array([b"0.1"] * 24, dtype="S8").reshape(6, 4)

    layers = mlp(rng())
    layers[1]["weights"][0][1][2, 1] = np.nan
    save(p("nan_weights.h5"), layers)
    layers = mlp(rng())
    layers[2]["weights"][1][1][0] = np.inf
    save(p("inf_weights.h5"), layers)

    save(p("terabyte_input.h5"), [
        kh.input_layer("input_1", (400000, 400000, 64)),
        kh.conv2d("conv", np.full((1, 1, 64, 1), 0.1), np.zeros(1), activation="relu"),
        kh.flatten("flatten"),
        kh.dense("out", np.zeros((1, 3)), np.zeros(3), activation="softmax"),
    ])

    layers = mlp(rng(), functional=True)
    layers.insert(2, kh.with_inbound(kh.dense("d2", np.full((4, 4), 0.1), np.zeros(4), activation="relu"), "dense"))
    save(p("cycle.h5"), layers, functional=True)

    def cycle(c):
        layer_entry(c, "dense")["inbound_nodes"] = [[["d2", 0, 0, {}]]]
        layer_entry(c, "out")["inbound_nodes"] = [[["d2", 0, 0, {}]]]
        c["config"]["output_layers"] = [["out", 0, 0]]
        return c
    patch_config(p("cycle.h5"), cycle)

    save(p("dangling_input.h5"), mlp(rng(), functional=True), functional=True)

    def dangling(c):
        layer_entry(c, "out")["inbound_nodes"] = [[["dense_9", 0, 0, {}]]]
        return c
    patch_config(p("dangling_input.h5"), dangling)

    save(p("duplicate_names.h5"), mlp(rng()))

    def duplicate(c):
        layer_entry(c, "out")["config"]["name"] = "dense"
        return c
    patch_config(p("duplicate_names.h5"), duplicate)

    def upsampling_model(**config):
        up = {"class_name": "UpSampling2D", "weights": [],
              "config": dict({"name": "up", "size": [2, 2], "data_format": "channels_last"}, **config)}
        return [
            kh.input_layer("input_1", (3, 3, 1)),
            kh.conv2d("conv", np.full((1, 1, 1, 2), 0.5), np.zeros(2), activation="relu"),
            up,
            kh.flatten("flatten"),
            kh.dense("out", np.full((72, 3), 0.1), np.zeros(3), activation="softmax"),
        ]
    save(p("upsampling_bilinear.h5"), upsampling_model(interpolation="bilinear"))
    save(p("upsampling_zero.h5"), upsampling_model(size=[0, 2]))

    def profiles(name, ranges, kernel_shape=(6, 4), variants=True):
        # mlp() with 003's two profiles: profile 0's own 'dense' beside the model's.
        save(p(name), mlp(rng()))
        with h5py.File(p(name), "r+") as f:
            f.attrs["snn_idp_profile"] = "linear"
            f.attrs["snn_idp_ranges"] = ranges
            if variants:
                g = f.create_group("snn_idp_variants/0/dense")
                g["kernel"] = np.zeros(kernel_shape, np.float32)
                g["bias"] = np.zeros(4, np.float32)

    profiles("idp_ranges_float.h5", np.array([30.0, 100.0]))
    profiles("idp_ranges_short.h5", np.array([30, 90], dtype=np.int64))
    profiles("idp_variant_shape.h5", np.array([30, 100], dtype=np.int64), kernel_shape=(4, 6))
    profiles("idp_variant_missing.h5", np.array([30, 100], dtype=np.int64), variants=False)

    keras3(p)

    for name in sorted(os.listdir(out)):
        print("%-24s %6d B" % (name, os.path.getsize(p(name))))


if __name__ == "__main__":
    main()
