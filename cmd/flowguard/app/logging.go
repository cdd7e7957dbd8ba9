package app

import (
	"fmt"
	"io"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogOptions choose how flowguard logs: JSON for machines, console for people.
type LogOptions struct {
	Level  string
	Format string
}

// AddFlags registers the logging flags.
func (o *LogOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.Format, "log-format", "console", "log format: json (production) or console (people)")
}

// Validate checks the level and format.
func (o *LogOptions) Validate() error {
	if _, err := zapcore.ParseLevel(o.Level); err != nil {
		return badInput(fmt.Errorf("--log-level %q: %w", o.Level, err))
	}
	if o.Format != "json" && o.Format != "console" {
		return badInput(fmt.Errorf("--log-format %q: must be json or console", o.Format))
	}
	return nil
}

// Logger builds the logr.Logger that flowguard passes down through contexts.
func (o *LogOptions) Logger(w io.Writer) logr.Logger {
	level, err := zapcore.ParseLevel(o.Level)
	if err != nil {
		level = zapcore.InfoLevel
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if o.Format == "json" {
		enc = zapcore.NewJSONEncoder(encCfg)
	} else {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(w), level)
	return zapr.NewLogger(zap.New(core))
}
