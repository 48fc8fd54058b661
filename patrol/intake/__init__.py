"""Cases that come from outside the grid workers' phones: residents on the public H5 page (扫码上报) and its QR
stickers, the 12345 hotline's work orders in and their results out, and the import of an old system's case
history."""
