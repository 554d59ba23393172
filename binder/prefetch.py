"""Download the dataset and the three ImageNet weight files into the Binder image, so sessions start offline-ready."""

import keras

from helpers import data
from helpers.profiles import Profile

print("dataset:", data.get_dataset(Profile("quick")))
keras.applications.VGG16(weights="imagenet", include_top=False, input_shape=(150, 150, 3))
keras.applications.InceptionV3(weights="imagenet", include_top=False, input_shape=(150, 150, 3))
keras.applications.MobileNetV2(weights="imagenet", include_top=False, input_shape=(160, 160, 3))
print("ImageNet weights cached in ~/.keras/models")
