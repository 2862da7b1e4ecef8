"""Mail in: SMTP, LMTP, submission and ``mailhost deliver``, over one delivery pipeline.

* :mod:`~mailhost.delivery.replies` and :mod:`~mailhost.delivery.trace`: pure values and
  header building (enhanced status codes, Received/Return-Path from hostile input);
* :mod:`~mailhost.delivery.recipients`: who may receive and who may send as whom;
* :mod:`~mailhost.delivery.pipeline`: decide hook, trace headers, store, notification and
  error mapping, shared by every way in;
* :mod:`~mailhost.delivery.smtpd`, :mod:`~mailhost.delivery.handler`,
  :mod:`~mailhost.delivery.smtpauth`, :mod:`~mailhost.delivery.serve`: aiosmtpd running on the
  core's connections; :mod:`~mailhost.delivery.plugin` registers the three protocols;
* :mod:`~mailhost.delivery.relay`: the smarthost client (aiosmtplib);
* :mod:`~mailhost.delivery.lda`: the local delivery agent behind ``mailhost deliver``.
"""
