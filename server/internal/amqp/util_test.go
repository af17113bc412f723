package amqp

import (
	"errors"

	goamqp "github.com/Azure/go-amqp"
)

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

func goamqpMessage(body string) *goamqp.Message { return goamqp.NewMessage([]byte(body)) }

func receiverCredit(n int32) *goamqp.ReceiverOptions { return &goamqp.ReceiverOptions{Credit: n} }
