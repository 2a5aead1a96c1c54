"""Gate pages: ``gate`` holds the guard's and the host's flow on a phone, ``records`` the log,
its export, the roll call, standing passes and the site's rules."""
