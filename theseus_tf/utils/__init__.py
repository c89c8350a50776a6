"""Utilities: conversion to and from other libraries' checkpoints."""
