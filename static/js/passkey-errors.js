// Shows, on the page, why a passkey could not be created or used. allauth's WebAuthn script only
// logs the failure to the console (it dispatches a cancelable "allauth.error" event first).
(function () {
  'use strict'

  function ipAddress (hostname) {
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.indexOf(':') !== -1 || hostname === '[::1]'
  }

  function nameAddress () {
    const url = new URL(window.location.href)
    url.hostname = 'localhost'
    return url.href
  }

  function messageFor (exception) {
    const name = exception && exception.name ? exception.name : ''
    if (ipAddress(window.location.hostname)) {
      return 'Your browser does not allow passkeys at an address made of numbers (' + window.location.hostname +
        '). Open Homeport at ' + nameAddress() + ' and try again, or use an authenticator app instead.'
    }
    if (name === 'NotAllowedError' || name === 'AbortError') {
      return 'The passkey was not saved: the request was cancelled or took too long. Try again, or use an authenticator app instead.'
    }
    if (name === 'InvalidStateError') {
      return 'This device already holds a passkey for your account. Use it, or add a passkey on another device.'
    }
    if (name === 'SecurityError') {
      return 'Your browser refused to create a passkey for this address. Open Homeport at its usual address and try again, or use an authenticator app instead.'
    }
    if (name === 'NotSupportedError' || name === 'TypeError') {
      return 'This browser or device cannot create passkeys. Use an authenticator app instead.'
    }
    return 'The passkey did not work (' + (name || 'unknown error') + '). Try again, or use an authenticator app instead.'
  }

  function show (text) {
    const box = document.getElementById('passkey-error')
    if (!box) return
    box.textContent = text
    box.hidden = false
    box.scrollIntoView({ block: 'center' })
  }

  document.addEventListener('allauth.error', function (event) {
    const detail = event.detail || {}
    if (!detail.tags || detail.tags.indexOf('webauthn') === -1) return
    event.preventDefault()
    if (window.console) window.console.warn('passkey:', detail.exception)
    show(messageFor(detail.exception))
  })

  document.addEventListener('DOMContentLoaded', function () {
    if (ipAddress(window.location.hostname)) {
      show(messageFor({ name: 'SecurityError' }))
    } else if (!window.PublicKeyCredential || !navigator.credentials) {
      show(messageFor({ name: 'NotSupportedError' }))
    }
  })
})()
