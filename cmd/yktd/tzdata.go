package main

// The time zone database is built in: a terminal's root file system often
// has no /usr/share/zoneinfo, and card dates, meal periods and time
// profiles are read in the configured zone (default Asia/Shanghai).
import _ "time/tzdata"
