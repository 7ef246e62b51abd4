"""Citizens in: QR stickers on poles (a signed place id), the phone report form's rules and
move-car (挪车) tasks. Domain code only: no Flask, no feeds (the report goes through
feeds/citizen.py into the one pipeline)."""
