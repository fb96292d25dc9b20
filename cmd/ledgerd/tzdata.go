package main

// The time zone database is built in, as in yktd: --timezone (default
// Asia/Shanghai) must load on a server without /usr/share/zoneinfo.
import _ "time/tzdata"
