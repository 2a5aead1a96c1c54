"""SIAGA: Sistem Informasi Pengamanan Gudang dan Logistik Pemilu."""

__version__ = "0.1.0"
