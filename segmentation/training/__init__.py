"""Training the lesion segmentation model on synthetic lesions (`recist train`)."""
