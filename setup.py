"""theseus_tf: BERT-of-Theseus model compression for TensorFlow and Keras."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent

# Versions that resolve together on Python 3.11. TensorFlow, tf-keras and
# tensorflow-text are released in lock-step and must share a minor version.
INSTALL_REQUIRES = [
    "tensorflow>=2.21,<2.22",
    "keras>=3.15,<4",
    "tf-keras>=2.21,<2.22",
    "tensorflow-text>=2.21,<2.22",
    # transformers 5 has no TF models: it is used for configs and tokenizers.
    "transformers>=5,<6",
    "tokenizers>=0.22",
    "huggingface-hub>=1.0",
    "safetensors>=0.4",
    "tensorflow-datasets>=4.9",
    # tensorflow-datasets imports it on every Python but declares it only for <3.9.
    "importlib_resources>=6",
    # TF 2.21 no longer pulls in tensorboard; Keras' TensorBoard callback needs it.
    "tensorboard>=2.21,<2.22",
    "ai-edge-litert>=2.0",
    # `theseus-tf benchmark` draws its plot with it (Agg backend, no display).
    "matplotlib>=3.8,<4",
    "tensorflow-serving-api>=2.21,<2.22",
    "numpy>=1.26",
    "pyyaml>=6",
    "tqdm>=4.66",
]

# Compressing KerasHub text classifiers (Keras 3 only). Pinned to a minor
# version: the adapter rebuilds each family's backbone from its constructor.
KERAS_HUB = "keras-hub>=0.32,<0.33"

EXTRAS_REQUIRE = {
    # The PyTorch reference of `theseus-tf benchmark` (CPU build: no CUDA).
    "torch": ["torch==2.13.0+cpu"],
    "keras-hub": [KERAS_HUB],
    # TF's multi_process_runner (multi-worker tests) needs dill and portpicker;
    # pytest-xdist runs scripts/test.sh's test files in two processes; torch
    # checks the PyTorch reference and Hugging Face's loading of
    # `save_pretrained` output; keras-hub the KerasHub adapter (Keras 3).
    "test": ["pytest>=8", "pytest-xdist>=3.5", "dill>=0.3", "portpicker>=1.6",
             "torch==2.13.0+cpu", KERAS_HUB],
}

setup(
    name="theseus_tf",
    version="0.1.0",
    description=(
        "Compress BERT-style models by progressive module replacing "
        "(BERT-of-Theseus) in TensorFlow and Keras."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["theseus_tf", "theseus_tf.*", "trainers", "trainers.*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["theseus-tf=trainers.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: Apache Software License",
    ],
)
